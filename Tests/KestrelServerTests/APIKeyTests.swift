import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KestrelEngine
import KestrelServer
import KestrelTestSupport
import Logging
import XCTest

/// The API key of the write endpoints: where it comes from, how it is presented, and every refusal.
private let key = "s3cret-key-for-tests"

final class APIKeyTests: XCTestCase {

    func app(_ fixture: ServerFixture) -> some ApplicationProtocol {
        KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test"))
    }

    func keyed() throws -> ServerFixture {
        var configuration = ServerConfiguration()
        configuration.apiKey = key
        return try ServerFixture.make(configuration: configuration)
    }

    func testMissingKeyIs401WithABearerChallenge() async throws {
        let fixture = try keyed()
        let count = try fixture.catalog.store.count
        try await app(fixture).test(.router) { client in
            let png = TinyPNG.solid(width: 8, height: 8, red: 1, green: 1, blue: 1)
            for answer in [try await client.upload(png, key: nil), try await client.send(.delete, "/v1/items/1", key: nil)] {
                XCTAssertEqual(answer.status, .unauthorized, answer.text)
                XCTAssertEqual(answer.errorCode, "unauthorized")
                XCTAssertEqual(answer.headers[.wwwAuthenticate]?.hasPrefix("Bearer"), true)
            }
            // Another scheme is no key either.
            var basic = HTTPFields()
            basic[.authorization] = "Basic \(Data("u:\(key)".utf8).base64EncodedString())"
            let other = try await client.answer(uri: "/v1/items/1", method: .delete, headers: basic, body: nil)
            XCTAssertEqual(other.status, .unauthorized)
        }
        XCTAssertEqual(try fixture.catalog.store.count, count)
    }

    func testWrongKeyIs403Forbidden() async throws {
        let fixture = try keyed()
        let count = try fixture.catalog.store.count
        let png = TinyPNG.solid(width: 8, height: 8, red: 2, green: 2, blue: 2)
        try await app(fixture).test(.router) { client in
            for wrong in ["wrong", String(key.dropLast()), key + "x", key.uppercased(), "Bearer"] {
                for style in [KeyStyle.bearer, .xAPIKey] {
                    let answer = try await client.upload(png, key: wrong, headerStyle: style)
                    XCTAssertEqual(answer.status, .forbidden, "\(wrong) \(style)")
                    XCTAssertEqual(answer.errorCode, "forbidden")
                }
                let delete = try await client.send(.delete, "/v1/items/1", key: wrong)
                XCTAssertEqual(delete.errorCode, "forbidden")
            }
        }
        XCTAssertEqual(try fixture.catalog.store.count, count)
        XCTAssertNotNil(try fixture.catalog.store.item(id: 1))
    }

    func testTheKeyWorksInEitherHeader() async throws {
        let fixture = try keyed()
        try await app(fixture).test(.router) { client in
            for (i, style) in [KeyStyle.bearer, .lowercaseBearer, .xAPIKey].enumerated() {
                let png = TinyPNG.solid(width: 8 + i, height: 8, red: 3, green: 3, blue: 3)
                let answer = try await client.upload(png, key: key, headerStyle: style)
                XCTAssertEqual(answer.status, .created, "\(style): \(answer.text)")
                XCTAssertEqual(answer.json["duplicate"] as? Bool, false)
            }
        }
    }

    /// The key is checked before the body is read: a body over the limit without a key is a 401, not a 413.
    func testTheKeyIsCheckedBeforeTheBody() async throws {
        var configuration = ServerConfiguration()
        configuration.apiKey = key
        configuration.limits.maxBodyBytes = 1000
        let fixture = try ServerFixture.make(configuration: configuration)
        let big = [UInt8](repeating: 0x41, count: 5000)
        try await app(fixture).test(.router) { client in
            let noKey = try await client.upload(big, key: nil)
            XCTAssertEqual(noKey.status, .unauthorized)
            let wrong = try await client.upload(big, key: "nope")
            XCTAssertEqual(wrong.status, .forbidden)
            let right = try await client.upload(big, key: key)
            XCTAssertEqual(right.status, .contentTooLarge)
            XCTAssertEqual(right.errorCode, "limit_exceeded")
        }
    }

    func testAServerWithoutAKeyIsReadOnly() async throws {
        let fixture = try ServerFixture.make()
        let count = try fixture.catalog.store.count
        try await app(fixture).test(.router) { client in
            let png = TinyPNG.solid(width: 8, height: 8, red: 4, green: 4, blue: 4)
            for answer in [try await client.upload(png, key: nil), try await client.upload(png, key: "anything"),
                           try await client.send(.delete, "/v1/items/1", key: "anything")] {
                XCTAssertEqual(answer.status, .forbidden, answer.text)
                XCTAssertEqual(answer.errorCode, "read_only")
            }
            // Reads still work.
            let search = try await client.execute(uri: "/v1/search", method: .post, body: ByteBuffer(string: #"{"text":"red","k":2}"#))
            XCTAssertEqual(search.status, .ok)
        }
        XCTAssertEqual(try fixture.catalog.store.count, count)
    }

    /// A key over a catalog opened read-only (no writer lock): writes are refused, not attempted.
    func testAKeyOverAReadOnlyCatalogIsReadOnly() async throws {
        let fixture = try ServerFixture.make()
        let readOnly = try Catalog.open(fixture.directory)
        var configuration = ServerConfiguration()
        configuration.apiKey = key
        let service = try SearchService(catalog: readOnly, embedder: fixture.embedder, configuration: configuration)
        try await KestrelHTTP.makeApplication(service: service, logger: Logger(label: "test")).test(.router) { client in
            let answer = try await client.upload(TinyPNG.solid(width: 8, height: 8, red: 5, green: 5, blue: 5), key: key)
            XCTAssertEqual(answer.status, .forbidden, answer.text)
            XCTAssertEqual(answer.errorCode, "read_only")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.directory.appendingPathComponent("uploads").path))
    }

    func testMatchingIsExact() throws {
        let k = try APIKey("abc-123")
        XCTAssertTrue(k.matches("abc-123"))
        for other in ["", "abc-12", "abc-1234", "ABC-123", " abc-123", "abc-124"] { XCTAssertFalse(k.matches(other), other) }
        XCTAssertThrowsError(try APIKey(""))
    }

    func testWhereTheKeyComesFrom() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-key")
        let file = dir.appendingPathComponent("key.txt")
        try Data("  line-one-key \nsecond line\n".utf8).write(to: file)
        XCTAssertEqual(try APIKey.load(environment: [:], file: file.path), "line-one-key")
        XCTAssertEqual(try APIKey.load(environment: ["KESTREL_API_KEY": " env-key\n"], file: nil), "env-key")
        XCTAssertNil(try APIKey.load(environment: [:], file: nil))

        func message(_ body: () throws -> String?) -> String {
            do { _ = try body(); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(message { try APIKey.load(environment: ["KESTREL_API_KEY": "k"], file: file.path) }.contains("--api-key-file"))
        XCTAssertTrue(message { try APIKey.load(environment: ["KESTREL_API_KEY": "  "], file: nil) }.contains("KESTREL_API_KEY"))
        let empty = dir.appendingPathComponent("empty.txt")
        try Data().write(to: empty)
        XCTAssertTrue(message { try APIKey.load(environment: [:], file: empty.path) }.contains(empty.path))
        let blankFirstLine = dir.appendingPathComponent("blank.txt")
        try Data("\nkey-on-line-two\n".utf8).write(to: blankFirstLine)
        XCTAssertTrue(message { try APIKey.load(environment: [:], file: blankFirstLine.path) }.contains(blankFirstLine.path))
        let missing = dir.appendingPathComponent("missing.txt")
        XCTAssertTrue(message { try APIKey.load(environment: [:], file: missing.path) }.contains(missing.path))
        // A folder or a device is refused by kind, never read.
        XCTAssertTrue(message { try APIKey.load(environment: [:], file: dir.path) }.contains(dir.path))
        XCTAssertTrue(message { try APIKey.load(environment: [:], file: "/dev/zero") }.contains("/dev/zero"))
    }

    func testPresentedKey() {
        var h = HTTPFields()
        XCTAssertNil(APIKey.presented(in: h))
        h[.authorization] = "Bearer  abc "
        XCTAssertEqual(APIKey.presented(in: h), "abc")
        h = HTTPFields()
        h[HTTPField.Name("x-api-key")!] = "xyz"
        XCTAssertEqual(APIKey.presented(in: h), "xyz")
    }
}
