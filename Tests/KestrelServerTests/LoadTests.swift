import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
import KestrelLoadSupport
import KestrelServer
import Logging
import XCTest

/// The bounded load test of issue 9: the in-process server on a live loopback port, driven by the
/// load generator `kestrel-bench load` uses (KestrelLoadSupport). It stops by itself after a few
/// seconds and asserts behaviour only (no timing): zero errors, every answer well formed.
final class LoadTests: XCTestCase {
    /// 4 clients, each on one kept-alive connection, for 3 s of back-to-back text searches.
    func testFourClientsSearchForThreeSecondsWithoutAnError() async throws {
        var configuration = ServerConfiguration()
        configuration.port = 0
        let fixture = try ServerFixture.make(configuration: configuration)
        let stored = Set(try fixture.catalog.store.allVectors().ids)
        XCTAssertFalse(stored.isEmpty)
        let k = 5
        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "load-test"))
        let queries = SyntheticQueries.queries(count: 2000)
        try await app.test(.live) { client in
            var options = LoadOptions(port: try XCTUnwrap(client.port), queries: queries)
            options.host = "localhost"  // where the live test framework listens
            options.clients = 4
            options.seconds = 3
            options.k = k
            options.timeout = 20
            let report = await onThread { [options] in
                LoadGenerator.run(options) { reply, k in
                    // Well formed and best first (the generator's own check), and exactly the
                    // expected number of results, every one a stored item.
                    switch SearchReplyCheck.parse(reply.body, k: k) {
                    case .failure(let problem): return problem.description
                    case .success(let hits):
                        if hits.count != min(k, stored.count) { return "\(hits.count) results, expected \(min(k, stored.count))" }
                        if let stray = hits.first(where: { !stored.contains($0.id) }) { return "id \(stray.id) is not in the catalog" }
                        return nil
                    }
                }
            }
            XCTAssertEqual(report.errorCount, 0, report.summary)
            XCTAssertGreaterThanOrEqual(report.requests, 4, report.summary)
            XCTAssertEqual(report.latenciesMs.count, report.requests)
            XCTAssertEqual(report.distinctQueries, min(report.requests, queries.count), "the clients walk the list without repeats")
            XCTAssertEqual(report.connections, 4, "each client keeps its one connection alive: \(report.summary)")
            // The server still answers after the load.
            let after = try LoopbackHTTPClient(host: "localhost", port: options.port).send("GET", "/healthz")
            XCTAssertEqual(after.status, 200)
        }
    }

    /// Errors are counted, not hidden: requests to a route that does not exist are all errors,
    /// by status; a port nobody listens on gives connection errors. (The zero above means something.)
    func testErrorsAreCountedByKind() async throws {
        var configuration = ServerConfiguration()
        configuration.port = 0
        let fixture = try ServerFixture.make(configuration: configuration, images: ["samples/images/circles"])
        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "load-test"))
        try await app.test(.live) { client in
            var options = LoadOptions(port: try XCTUnwrap(client.port), queries: ["a red circle", "a blue square"])
            options.host = "localhost"
            options.path = "/v1/no-such-route"
            options.clients = 2
            options.seconds = 0.5
            let report = await onThread { [options] in LoadGenerator.run(options) }
            XCTAssertGreaterThan(report.requests, 0)
            XCTAssertEqual(report.errors, ["HTTP 404": report.requests], report.summary)
            XCTAssertFalse(report.errorSamples.isEmpty)

            // A well-formed reply that breaks the check is an "invalid reply".
            options.path = "/v1/search"
            options.k = 1
            let strict = await onThread { [options] in LoadGenerator.run(options) { _, _ in "rejected by the test" } }
            XCTAssertEqual(strict.errors, ["invalid reply": strict.requests], strict.summary)
        }
        // Nobody listens on the port the closed server had... or another one: take a fresh port and close it.
        let port = try closedPort()
        var options = LoadOptions(port: port, queries: ["a red circle"])
        options.clients = 1
        options.seconds = 0.2
        let refused = await onThread { [options] in LoadGenerator.run(options) }
        XCTAssertGreaterThan(refused.requests, 0)
        XCTAssertEqual(refused.errors, ["connection": refused.requests], refused.summary)
    }

    /// The client reads what the server sends: statuses, headers, JSON error bodies, on one connection.
    func testClientReadsRepliesOnOneConnection() async throws {
        var configuration = ServerConfiguration()
        configuration.port = 0
        let fixture = try ServerFixture.make(configuration: configuration, images: ["samples/images/circles"])
        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "load-test"))
        try await app.test(.live) { client in
            let port = try XCTUnwrap(client.port)
            let replies = try await onThread { () throws -> [HTTPReply] in
                let c = LoopbackHTTPClient(host: "localhost", port: port)
                let out = [try c.send("GET", "/healthz"),
                           try c.postJSON("/v1/search", #"{"text":"a red circle","k":2}"#),
                           try c.postJSON("/v1/search", #"{"text":"a red circle","k":"two"}"#),
                           try c.send("GET", "/healthz")]
                XCTAssertEqual(c.connections, 1)
                return out
            }
            XCTAssertEqual(replies.map(\.status), [200, 200, 400, 200])
            XCTAssertEqual(replies[0].text, "{\"status\":\"ok\"}\n")
            XCTAssertEqual(replies[0].header("Content-Type"), "application/json; charset=utf-8")
            guard case .success(let hits) = SearchReplyCheck.parse(replies[1].body, k: 2) else { return XCTFail(replies[1].text) }
            XCTAssertEqual(hits.count, 2)
            XCTAssertTrue(replies[2].text.contains("\"error\""), replies[2].text)
        }
    }
}

/// Runs blocking work on a thread of its own (the load generator blocks for seconds; the
/// server's tasks keep the cooperative pool).
private func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

private func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}

/// A loopback port that was free a moment ago and has no listener now.
private func closedPort() throws -> Int {
    let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(s) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, length) == 0 && getsockname(s, $0, &length) == 0 }
    }
    guard bound else { throw FixtureError("cannot bind a loopback port") }
    return Int(UInt16(bigEndian: address.sin_port))
}
