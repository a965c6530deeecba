import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
import KestrelServer
import KestrelTestSupport
import Logging
import XCTest

final class OperationsRoutesTests: XCTestCase {
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
                XCTAssertTrue(String(buffer: response.body).hasPrefix("{\"results\":["), String(buffer: response.body))
            }
        }
    }
}
