import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
@testable import KestrelServer
import KestrelTestSupport
import Logging
import XCTest

final class JSONValueTests: XCTestCase {
    typealias Kit = ServerTestKit

    func testTheParserReadsEveryKindOfValue() throws {
        let text = #" {"a": [1, -2.5e3, 0, true, false, null], "s": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "o": {}, "e": [] } "#
        let v = try JSONValue.parse(bytes: Array(text.utf8))
        XCTAssertEqual(v, .object(["a": .array([.number(1), .number(-2500), .number(0), .bool(true), .bool(false), .null]),
                                   "s": .string("x\"\\/\u{08}\u{0C}\n\r\té😀"), "o": .object([:]), "e": .array([])]))
        // Written back by the encoder, it reads the same.
        let doc = #"{"k": 10, "text": [{"query": "beach", "weight": 1}, {"query": "people", "weight": -0.5}], "filters": {"album": "summer", "year": 2024}}"#
        let ours = try JSONValue.parse(bytes: Array(doc.utf8))
        let again = try JSONValue.parse(bytes: Array(try JSONEncoder().encode(ours)))
        XCTAssertEqual(ours, again)
        XCTAssertEqual(ours, .object(["k": .number(10), "filters": .object(["album": .string("summer"), "year": .number(2024)]),
                                      "text": .array([.object(["query": .string("beach"), "weight": .number(1)]),
                                                      .object(["query": .string("people"), "weight": .number(-0.5)])])]))
    }

    func testTheParserRejectsWhatIsNotJSON() {
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "tru", "\"abc", "\"\\x\"", "\"\\ud800\"", "[1] 2", "{'a': 1}",
                    "1e400", "\"tab\there\"", String(repeating: "[", count: 200) + String(repeating: "]", count: 200)] {
            XCTAssertThrowsError(try JSONValue.parse(bytes: Array(bad.utf8)), bad)
        }
    }

    func testBadJSONBodiesAre400NamingTheProblem() async throws {
        let service = try Kit.service()
        try await Kit.withClient(service) { client in
            try await Kit.raw(client, "/v1/search", #"{"text": "a", "k": 1,}"#).assertError(.badRequest, "bad_request", mentions: "not valid JSON")
            try await Kit.raw(client, "/v1/search", "[1, 2]").assertError(.badRequest, "bad_request", mentions: "JSON object")
            let nested = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
            try await Kit.raw(client, "/v1/search", nested).assertError(.badRequest, "bad_request", mentions: "nested")
        }
    }

    /// A value the encoder cannot write (NaN) is a 500 `internal`, never a 200 with an error body.
    func testAResponseThatCannotBeEncodedIs500() async throws {
        XCTAssertThrowsError(try jsonResponse(["x": Float.nan]))
        let service = try Kit.service()
        let router = KestrelHTTP.makeRouter(service: service, logger: Logger(label: "test"))
        router.get("/nan") { _, _ in try jsonResponse(["x": Double.nan]) }
        try await Application(router: router).test(.router) { client in
            let r = try await Kit.send(client, .get, "/nan")
            r.assertError(.internalServerError, "internal")
        }
    }

    /// Work handed to the blocking pool by a cancelled task does not run.
    func testOffloadFromACancelledTaskDoesNotRun() async throws {
        let service = try Kit.service()
        let ran = Flag()
        let task = Task { () -> Int in
            withUnsafeCurrentTask { $0?.cancel() }
            return try await service.offload { ran.set(true); return 1 }
        }
        do { _ = try await task.value; XCTFail("ran") } catch is CancellationError {}
        XCTAssertNil(ran.get)
        // Long work sees the cancellation between its steps.
        let started = Gate()
        let steps = Flag()
        let long = Task { () -> Int in
            try await service.offload(checking: { check in
                started.open()
                var n = 0
                while true { try check(); n += 1; steps.set(true); usleep(1000) }
                return n
            })
        }
        try await started.wait()
        long.cancel()
        do { _ = try await long.value; XCTFail("not cancelled") } catch is CancellationError {}
    }
}
