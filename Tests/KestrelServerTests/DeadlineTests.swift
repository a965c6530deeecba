import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
import KestrelServer
import KestrelTestSupport
import XCTest

final class DeadlineTests: XCTestCase {
    typealias Kit = ServerTestKit

    func testASlowRequestIsAnswered503AtTheDeadline() async throws {
        var configuration = ServerConfiguration()
        configuration.limits.requestTimeout = 0.001
        let service = try Kit.service(configuration)
        let texts = (0..<256).map { "a long enough text number \($0) to keep the text tower busy for a while" }
        try await Kit.withClient(service) { client in
            try await Kit.json(client, "/v1/embed/text", ["texts": texts]).assertError(.serviceUnavailable, "deadline_exceeded")
        }
    }

    func testDeadlineRunReturnsFastWorkAndCutsSlowWork() async throws {
        let fast = try await Deadline.run(timeout: 5) { 42 }
        XCTAssertEqual(fast, 42)
        let clock = ContinuousClock()
        let start = clock.now
        do {
            _ = try await Deadline.run(timeout: 0.05) { () -> Int in
                try? await Task.sleep(nanoseconds: 3_000_000_000)
                return 1
            }
            XCTFail("no deadline error")
        } catch let e as APIError {
            XCTAssertEqual(e.code, "deadline_exceeded")
            XCTAssertEqual(e.status, .serviceUnavailable)
        }
        // Answered at the deadline, not when the work ended (3 s).
        XCTAssertLessThan(clock.now - start, .seconds(2))
        // Errors of the work pass through.
        do {
            _ = try await Deadline.run(timeout: 5) { () -> Int in throw APIError.notFound("x") }
            XCTFail("no error")
        } catch let e as APIError { XCTAssertEqual(e.code, "not_found") }
    }
}
