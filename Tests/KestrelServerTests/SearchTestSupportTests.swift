import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
import KestrelServer
import KestrelTestSupport
import Logging
import XCTest

/// What a test request got back.
struct Reply {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    /// The body as a JSON object (fails the test when it is not one).
    func json(file: StaticString = #filePath, line: UInt = #line) -> [String: Any] {
        guard let o = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            XCTFail("not a JSON object: \(text.prefix(300))", file: file, line: line)
            return [:]
        }
        return o
    }
    /// Checks an `APIError` answer: status, code, and (when given) the limit's name.
    func assertError(_ status: HTTPResponse.Status, _ code: String, limit: String? = nil, mentions: String? = nil,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(self.status, status, text, file: file, line: line)
        XCTAssertEqual(headers[.contentType], "application/json; charset=utf-8", file: file, line: line)
        let error = json(file: file, line: line)["error"] as? [String: Any]
        XCTAssertEqual(error?["code"] as? String, code, text, file: file, line: line)
        XCTAssertFalse((error?["message"] as? String ?? "").isEmpty, file: file, line: line)
        if let limit {
            XCTAssertEqual((error?["limit"] as? [String: Any])?["name"] as? String, limit, text, file: file, line: line)
        }
        if let mentions {
            XCTAssertTrue((error?["message"] as? String ?? "").contains(mentions), "\(text) should mention \(mentions)", file: file, line: line)
        }
    }
}

/// Shared set-up of the route tests: one catalog of the sample images, served with any
/// configuration.
enum ServerTestKit {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var cached: ServerFixture?

    /// The shared fixture (built once per test process; tests must not change its catalog).
    static func shared() throws -> ServerFixture {
        lock.lock(); defer { lock.unlock() }
        if let cached { return cached }
        let f = try ServerFixture.make()
        cached = f
        return f
    }

    /// A service over the shared catalog with `configuration` (its own embedder, metrics and batcher).
    static func service(_ configuration: ServerConfiguration = ServerConfiguration()) throws -> SearchService {
        let f = try shared()
        guard let model = DefaultModel.locate() else { throw FixtureError("no default model") }
        let embedder = try SearchService.makeEmbedder(modelDirectory: model, catalog: f.catalog, limits: configuration.limits)
        return try SearchService(catalog: f.catalog, embedder: embedder, configuration: configuration)
    }

    /// Runs `body` against the service's router in process.
    static func withClient(_ service: SearchService, logger: Logger = Logger(label: "test"),
                           _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = KestrelHTTP.makeApplication(service: service, logger: logger)
        try await app.test(.router) { client in try await body(client) }
    }

    static func send(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String,
                     body: [UInt8]? = nil, headers: HTTPFields = [:]) async throws -> Reply {
        try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(bytes: $0) }) { r in
            Reply(status: r.status, headers: r.headers, body: Array(buffer: r.body))
        }
    }

    static func json(_ client: any TestClientProtocol, _ uri: String, _ object: Any) async throws -> Reply {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return try await send(client, .post, uri, body: Array(try JSONSerialization.data(withJSONObject: object)), headers: headers)
    }

    static func raw(_ client: any TestClientProtocol, _ uri: String, _ text: String, contentType: String = "application/json") async throws -> Reply {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        return try await send(client, .post, uri, body: Array(text.utf8), headers: headers)
    }

    /// A multipart/form-data body with an `image` part and text fields.
    static func multipart(image: [UInt8]?, fields: [(String, String)] = []) -> (body: [UInt8], contentType: String) {
        let boundary = "kestrel-test-boundary-1234"
        var body: [UInt8] = []
        func line(_ s: String) { body += Array((s + "\r\n").utf8) }
        for (name, value) in fields {
            line("--\(boundary)")
            line("Content-Disposition: form-data; name=\"\(name)\"")
            line("")
            line(value)
        }
        if let image {
            line("--\(boundary)")
            line("Content-Disposition: form-data; name=\"image\"; filename=\"x.png\"")
            line("Content-Type: application/octet-stream")
            line("")
            body += image
            line("")
        }
        line("--\(boundary)--")
        return (body, "multipart/form-data; boundary=\(boundary)")
    }

    static func upload(_ client: any TestClientProtocol, _ uri: String, image: [UInt8]?, fields: [(String, String)] = []) async throws -> Reply {
        let m = multipart(image: image, fields: fields)
        var headers = HTTPFields()
        headers[.contentType] = m.contentType
        return try await send(client, .post, uri, body: m.body, headers: headers)
    }

    static func sample(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: Fixtures.repoRoot.appendingPathComponent("samples/images/\(name)")))
    }

    /// The id of the stored item at samples/images/`name`.
    static func id(of name: String, in catalog: Catalog) throws -> UInt64 {
        let path = FilePathBytes(Fixtures.repoRoot.appendingPathComponent("samples/images/\(name)").path)
        guard let r = try catalog.store.lookup(path: path) else { throw FixtureError("\(name) is not in the catalog") }
        return r.id
    }

    /// The engine's own answer, to compare the routes with.
    static func engineSearch(_ catalog: Catalog, _ vector: [Float], k: Int) throws -> [UInt64] {
        try catalog.search(vector: vector, options: SearchOptions(k: k)).map(\.id)
    }
}

func unit(_ v: [Float]) -> [Float] {
    let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return v.map { $0 / n }
}
