import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
import KestrelServer
import KestrelTestSupport
import Logging
import XCTest

final class OperationsRoutesTests: XCTestCase {
    typealias Kit = ServerTestKit

    func testHealthzAnswersOK() async throws {
        let fixture = try ServerFixture.make()
        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(String(buffer: response.body), "{\"status\":\"ok\"}\n")
            }
            try await client.execute(uri: "/v1/search", method: .post, body: ByteBuffer(string: #"{"text":"a red circle","k":3}"#)) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertTrue(String(buffer: response.body).hasPrefix("{\"model\":") || String(buffer: response.body).contains("\"results\":["),
                              String(buffer: response.body))
            }
            try await client.execute(uri: "/readyz", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
            }
        }
    }

    func testUnknownRoutesAre404JSONAndWrongMethods405JSON() async throws {
        let service = try Kit.service()
        try await Kit.withClient(service) { client in
            try await Kit.send(client, .get, "/nope").assertError(.notFound, "not_found")
            try await Kit.send(client, .get, "/v1/items/1/extra").assertError(.notFound, "not_found")
            let get = try await Kit.send(client, .get, "/v1/search")
            get.assertError(.methodNotAllowed, "method_not_allowed")
            XCTAssertEqual(get.headers[.allow], "POST")
            let put = try await Kit.send(client, .put, "/v1/items/3")
            put.assertError(.methodNotAllowed, "method_not_allowed")
            XCTAssertTrue(put.headers[.allow]?.contains("GET") ?? false)
            try await Kit.send(client, .post, "/healthz").assertError(.methodNotAllowed, "method_not_allowed")
        }
    }

    func testInfoDescribesModelCatalogAndLimits() async throws {
        var configuration = ServerConfiguration()
        configuration.limits.maxK = 77
        let service = try Kit.service(configuration)
        try await Kit.withClient(service) { client in
            let r = try await Kit.send(client, .get, "/v1/info")
            XCTAssertEqual(r.status, .ok, r.text)
            let o = r.json()
            XCTAssertEqual((o["items"] as? NSNumber)?.intValue, try service.catalog.store.count)
            XCTAssertEqual((o["model"] as? [String: Any])?["name"] as? String, service.identity.name)
            let index = o["index"] as? [String: Any]
            XCTAssertEqual(index?["factory"] as? String, service.catalog.index.factory)
            XCTAssertEqual((index?["vectors"] as? NSNumber)?.intValue, service.catalog.index.count)
            XCTAssertEqual((o["store_sequence"] as? NSNumber)?.uint64Value, try service.catalog.store.lastSequence)
            XCTAssertEqual(((o["limits"] as? [String: Any])?["k"] as? NSNumber)?.intValue, 77)
            XCTAssertEqual(o["writable"] as? Bool, false)
        }
    }

    func testOpenAPIDocumentIsServed() async throws {
        let service = try Kit.service()
        try await Kit.withClient(service) { client in
            let r = try await Kit.send(client, .get, "/openapi.json")
            XCTAssertEqual(r.status, .ok)
            XCTAssertEqual(r.json()["openapi"] as? String, "3.1.0")
        }
    }

    func testErrorMappingSendsClientMistakesTo4xxAndNamesNoServerPath() {
        let limits = ServerLimits()
        let secret = "/srv/secret/index"
        let internals: [Error] = [StoreError.corrupt(store: secret, detail: "bad page at \(secret)/data.mdb"),
                                  EngineError.noCatalog(secret), FileError.tooLarge(path: FilePathBytes(secret), size: 9, limit: 1),
                                  ImageError.unreadable(path: secret, reason: "EACCES"), CocoaError(.fileNoSuchFile)]
        for error in internals {
            let api = ErrorMapping.apiError(for: error, limits: limits)
            XCTAssertEqual(api.status, .internalServerError, "\(error)")
            XCTAssertEqual(api.code, "internal")
            XCTAssertFalse(api.description.contains("secret"), api.description)
        }
        let client: [(Error, HTTPResponse.Status, String, String?)] = [
            (ImageError.tooManyPixels(path: secret, width: 100_000, height: 100_000, limit: 50), .badRequest, "limit_exceeded", "image_pixels"),
            // Sizes whose product does not fit an Int (a forged header): still a 400, no overflow trap.
            (ImageError.tooManyPixels(path: secret, width: Int.max / 2, height: Int.max / 2, limit: 50), .badRequest, "limit_exceeded", "image_pixels"),
            (ImageError.truncated(path: secret, detail: "premature end"), .badRequest, "bad_image", nil),
            (ImageError.corrupt(path: secret, detail: "bad huffman"), .badRequest, "bad_image", nil),
            (ImageError.unsupportedFormat(path: secret, format: "gif"), .badRequest, "bad_image", nil),
            (EngineError.noSuchItem(7, index: secret), .notFound, "not_found", nil),
            (EngineError.badArgument("k", "must be at least 1"), .badRequest, "bad_request", nil),
            (EngineError.noLabels, .badRequest, "bad_request", nil),
        ]
        for (error, status, code, limit) in client {
            let api = ErrorMapping.apiError(for: error, limits: limits)
            XCTAssertEqual(api.status, status, "\(error)")
            XCTAssertEqual(api.code, code, "\(error)")
            XCTAssertEqual(api.limit?.name, limit)
            XCTAssertFalse(api.description.contains("secret"), api.description)
        }
    }

    func testCORSIsOffByDefaultAndOnlyForListedOrigins() async throws {
        var h = HTTPFields()
        h[.origin] = "https://photos.example"
        let headers = h
        let off = try Kit.service()
        try await Kit.withClient(off) { client in
            let r = try await Kit.send(client, .get, "/v1/info", headers: headers)
            XCTAssertEqual(r.status, .ok)
            XCTAssertNil(r.headers[.accessControlAllowOrigin])
        }
        var configuration = ServerConfiguration()
        configuration.corsOrigins = ["https://photos.example"]
        let on = try Kit.service(configuration)
        try await Kit.withClient(on) { client in
            let r = try await Kit.send(client, .get, "/v1/info", headers: headers)
            XCTAssertEqual(r.headers[.accessControlAllowOrigin], "https://photos.example")
            var preflight = headers
            preflight[.accessControlRequestMethod] = "POST"
            let p = try await Kit.send(client, .options, "/v1/search", headers: preflight)
            XCTAssertEqual(p.status, .noContent)
            XCTAssertEqual(p.headers[.accessControlAllowOrigin], "https://photos.example")
            var other = HTTPFields()
            other[.origin] = "https://evil.example"
            let o = try await Kit.send(client, .get, "/v1/info", headers: other)
            XCTAssertNil(o.headers[.accessControlAllowOrigin])
            other[.accessControlRequestMethod] = "POST"
            try await Kit.send(client, .options, "/v1/search", headers: other).assertError(.methodNotAllowed, "method_not_allowed")
        }
    }
}
