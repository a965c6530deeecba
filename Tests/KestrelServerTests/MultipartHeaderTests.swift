import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelServer
import XCTest

/// A multipart part header whose name holds a byte of 0x80 or more trapped MultipartKit 4.7.1's
/// parser and killed the server (found by Schemathesis). Every multipart route must answer 400
/// `bad_upload` and keep serving.
final class MultipartHeaderTests: XCTestCase {
    typealias Kit = ServerTestKit

    func testANonASCIIHeaderNameIsABadUploadNotACrash() async throws {
        let service = try Kit.service()
        let boundary = "b0undary"
        let body = Array("--\(boundary)\r\n".utf8) + [0x43, 0xC3, 0xA9]  // a part header "Cé: x"
            + Array(": x\r\n\r\nhello\r\n--\(boundary)--\r\n".utf8)
        let headers: HTTPFields = [.contentType: "multipart/form-data; boundary=\(boundary)"]
        try await Kit.withClient(service) { client in
            for route in ["/v1/embed/image", "/v1/search/image", "/v1/label"] {
                try await Kit.send(client, .post, route, body: body, headers: headers).assertError(.badRequest, "bad_upload")
            }
            // A UTF-8 file name in a header value is fine (browsers send them).
            let png = try Kit.sample("circles/red_circle.png")
            var ok = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"caf\u{e9}.png\"\r\n\r\n".utf8)
            ok += png + Array("\r\n--\(boundary)--\r\n".utf8)
            let r = try await Kit.send(client, .post, "/v1/embed/image", body: ok, headers: headers)
            XCTAssertEqual(r.status, .ok, r.text)
            let health = try await Kit.send(client, .get, "/healthz")
            XCTAssertEqual(health.status, .ok)
        }
    }
}
