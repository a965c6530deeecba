import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelServer
import KestrelTestSupport
import Logging
import XCTest

/// CORS: off by default; with origins configured, exactly those origins get CORS headers.
final class WriteRoutesCORSTests: XCTestCase {
    static func preflight(_ origin: String) -> HTTPFields {
        var h = HTTPFields()
        h[.origin] = origin
        h[.accessControlRequestMethod] = "POST"
        return h
    }

    func testNoCORSHeadersByDefault() async throws {
        let fixture = try ServerFixture.make()
        try await KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test")).test(.router) { client in
            let search = try await client.execute(uri: "/v1/search", method: .post, headers: Self.preflight("https://app.example.com"),
                                                  body: ByteBuffer(string: #"{"text":"red","k":1}"#))
            XCTAssertEqual(search.status, .ok)
            XCTAssertNil(search.headers[.accessControlAllowOrigin])
            let options = try await client.execute(uri: "/v1/search", method: .options, headers: Self.preflight("https://app.example.com"))
            XCTAssertNil(options.headers[.accessControlAllowOrigin])
            XCTAssertNil(options.headers[.accessControlAllowMethods])
        }
    }

    func testOnlyTheConfiguredOriginsGetCORSHeaders() async throws {
        var configuration = ServerConfiguration()
        configuration.corsOrigins = ["https://app.example.com", "http://localhost:3000"]
        let fixture = try ServerFixture.make(configuration: configuration)
        try await KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test")).test(.router) { client in
            for origin in ["https://app.example.com", "http://localhost:3000"] {
                let options = try await client.execute(uri: "/v1/items", method: .options, headers: Self.preflight(origin))
                XCTAssertEqual(options.status, .noContent)
                XCTAssertEqual(options.headers[.accessControlAllowOrigin], origin)
                let methods = options.headers[.accessControlAllowMethods] ?? ""
                XCTAssertTrue(methods.contains("DELETE") && methods.contains("POST"), methods)
                XCTAssertTrue((options.headers[.accessControlAllowHeaders] ?? "").lowercased().contains("x-api-key"))
                let search = try await client.execute(uri: "/v1/search", method: .post, headers: Self.preflight(origin),
                                                      body: ByteBuffer(string: #"{"text":"red","k":1}"#))
                XCTAssertEqual(search.status, .ok)
                XCTAssertEqual(search.headers[.accessControlAllowOrigin], origin)
            }
            for stranger in ["https://evil.example.com", "null", "https://app.example.com.evil.com", "http://app.example.com"] {
                let search = try await client.execute(uri: "/v1/search", method: .post, headers: Self.preflight(stranger),
                                                      body: ByteBuffer(string: #"{"text":"red","k":1}"#))
                XCTAssertNil(search.headers[.accessControlAllowOrigin], stranger)
                // The answer depends on the origin: shared caches must keep them apart.
                XCTAssertTrue(search.headers[values: .vary].contains { $0.lowercased().contains("origin") }, "\(stranger): \(search.headers)")
                let options = try await client.execute(uri: "/v1/items", method: .options, headers: Self.preflight(stranger))
                XCTAssertNil(options.headers[.accessControlAllowOrigin], stranger)
                XCTAssertNotEqual(options.status, .noContent, stranger)
            }
            let noOrigin = try await client.execute(uri: "/v1/search", method: .post, body: ByteBuffer(string: #"{"text":"red","k":1}"#))
            XCTAssertNil(noOrigin.headers[.accessControlAllowOrigin])
            XCTAssertEqual(noOrigin.headers[values: .vary].filter { $0.lowercased().contains("origin") }.count, 1, "\(noOrigin.headers)")
        }
    }
}
