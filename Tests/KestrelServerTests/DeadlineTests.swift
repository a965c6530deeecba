import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
@testable import KestrelLoadSupport
import KestrelServer
import KestrelTestSupport
import Logging
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A latch: `wait` suspends until `open` (at once when already open); a cancelled waiter throws
/// `CancellationError`.
final class Gate: @unchecked Sendable {
    private let lock = NSLock()
    private var isOpen = false
    private var waiters: [UUID: CheckedContinuation<Void, Error>] = [:]

    func open() {
        lock.lock()
        isOpen = true
        let all = waiters; waiters = [:]
        lock.unlock()
        for c in all.values { c.resume() }
    }

    var opened: Bool { lock.lock(); defer { lock.unlock() }; return isOpen }

    func wait() async throws {
        let id = UUID()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
                lock.lock()
                if isOpen { lock.unlock(); c.resume(); return }
                if Task.isCancelled { lock.unlock(); c.resume(throwing: CancellationError()); return }
                waiters[id] = c
                lock.unlock()
            }
        } onCancel: {
            lock.lock()
            let c = waiters.removeValue(forKey: id)
            lock.unlock()
            c?.resume(throwing: CancellationError())
        }
    }
}

/// A flag set from any task.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Bool?
    func set(_ v: Bool) { lock.lock(); value = v; lock.unlock() }
    var get: Bool? { lock.lock(); defer { lock.unlock() }; return value }
}

final class DeadlineTests: XCTestCase {
    typealias Kit = ServerTestKit

    /// The deadline passes (the test fires the timer) while the work waits: 503 at once, the work
    /// is cancelled before the answer, and only then does the test let the work go on.
    func testTheDeadlineAnswers503AndCancelsTheWorkFirst() async throws {
        let fire = Gate(), release = Gate()
        let sawCancel = Flag()
        let task = Task {
            try await Deadline.run(timeout: 1, sleep: { _ in try await fire.wait() }) { () -> Int in
                try? await release.wait()
                sawCancel.set(Task.isCancelled)
                return 1
            }
        }
        fire.open()
        do {
            _ = try await task.value
            XCTFail("no deadline error")
        } catch let e as APIError {
            XCTAssertEqual(e.code, "deadline_exceeded")
            XCTAssertEqual(e.status, .serviceUnavailable)
        }
        // The work was cancelled before the 503 came back (its wait on `release` ended by it).
        XCTAssertFalse(release.opened)
        release.open()
        while sawCancel.get == nil { await Task.yield() }
        XCTAssertEqual(sawCancel.get, true)
    }

    /// Work that ends first answers its result (or error) and stops the timer.
    func testFastWorkAnswersAndStopsTheTimer() async throws {
        let timerStopped = Gate()
        let sleep: Deadline.Sleep = { _ in
            do { try await Gate().wait() } catch { timerStopped.open(); throw error }   // never fires by itself
        }
        let fast = try await Deadline.run(timeout: 5, sleep: sleep) { 42 }
        XCTAssertEqual(fast, 42)
        try await timerStopped.wait()   // the timer task was cancelled when the work ended
        do {
            _ = try await Deadline.run(timeout: 5, sleep: sleep) { () -> Int in throw APIError.notFound("x") }
            XCTFail("no error")
        } catch let e as APIError { XCTAssertEqual(e.code, "not_found") }
    }

    /// Through a route: the handler is running (the test knows), the deadline fires, the client
    /// gets 503 `deadline_exceeded`; the handler is cancelled.
    func testARouteAnswers503AtTheDeadline() async throws {
        let started = Gate(), fire = Gate(), release = Gate()
        let sawCancel = Flag()
        let router = Router(context: KestrelHTTP.Context.self)
        router.post("/slow", use: Deadline.wrap(timeout: 1, bodyLimit: ("body_bytes", 1000), sleep: { _ in
            try await started.wait()   // the body phase's timer never fires: the body is all there
            try await fire.wait()
        }) { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1000)
            XCTAssertEqual(body.readableBytes, 5)
            started.open()
            try? await release.wait()
            sawCancel.set(Task.isCancelled)
            return Response(status: .ok)
        })
        let app = Application(router: router)
        try await app.test(.router) { client in
            async let reply = client.execute(uri: "/slow", method: .post, body: ByteBuffer(string: "hello")) { $0.status }
            try await started.wait()
            fire.open()
            let status = try await reply
            XCTAssertEqual(status, .serviceUnavailable)
        }
        release.open()
        while sawCancel.get == nil { await Task.yield() }
        XCTAssertEqual(sawCancel.get, true)
    }

    /// At the deadline of the body phase the reader has stopped before the 503 is thrown: when
    /// Hummingbird then drains the body, nobody else is reading it.
    func testAtTheDeadlineTheBodyReaderHasStoppedBeforeThe503() async throws {
        let ended = Flag()
        let (stream, source) = AsyncStream<ByteBuffer>.makeStream()
        source.onTermination = { _ in ended.set(true) }
        source.yield(ByteBuffer(string: "the first part, then nothing"))
        let request = Request(head: HTTPRequest(method: .post, scheme: "http", authority: "x", path: "/v1/search"),
                              body: RequestBody(asyncSequence: stream))
        do {
            _ = try await Deadline.readBody(request, limit: ("json_body_bytes", 1000), timeout: 1, sleep: { _ in })
            XCTFail("no deadline error")
        } catch let e as APIError {
            XCTAssertEqual(e.code, "deadline_exceeded")
        }
        XCTAssertEqual(ended.get, true, "the body reader was still running after the 503")
        // A body the Content-Length says is too large is refused without reading it.
        var headers = HTTPFields()
        headers[.contentLength] = "5000"
        let (never, _) = AsyncStream<ByteBuffer>.makeStream()
        let big = Request(head: HTTPRequest(method: .post, scheme: "http", authority: "x", path: "/v1/search", headerFields: headers),
                          body: RequestBody(asyncSequence: never))
        do {
            _ = try await Deadline.readBody(big, limit: ("json_body_bytes", 1000), timeout: nil)
            XCTFail("no 413")
        } catch let e as APIError {
            XCTAssertEqual(e.status, .contentTooLarge)
            XCTAssertEqual(e.limit?.name, "json_body_bytes")
        }
    }

    /// A body past the route's limit is 413 from its Content-Length, naming the limit.
    func testJSONRoutesHaveTheirOwnBodyLimit() async throws {
        var configuration = ServerConfiguration()
        configuration.limits.maxJSONBodyBytes = 100
        let service = try Kit.service(configuration)
        try await Kit.withClient(service) { client in
            let big = "{\"text\": \"" + String(repeating: "a", count: 200) + "\"}"
            try await Kit.raw(client, "/v1/search", big).assertError(.contentTooLarge, "limit_exceeded", limit: "json_body_bytes")
            try await Kit.raw(client, "/v1/embed/text", big).assertError(.contentTooLarge, "limit_exceeded", limit: "json_body_bytes")
            // Uploads keep body_bytes.
            let r = try await Kit.upload(client, "/v1/embed/image", image: try Kit.sample("circles/red_circle.png"))
            XCTAssertEqual(r.status, .ok, r.text)
        }
    }

    /// The crash this guards against: a body trickled past the deadline. The 503 comes while the
    /// body is still being read; Hummingbird then drains the rest of the body. No two readers
    /// may be on the body at once (NIO stops the process then). After the 503 the rest of the
    /// body and a second request go down the same connection: the server answers it or closes
    /// the connection, and keeps serving new connections.
    func testABodyTrickledPastTheDeadlineThenASecondRequestOnTheConnection() async throws {
        var configuration = ServerConfiguration()
        configuration.limits.requestTimeout = 0.3
        let service = try Kit.service(configuration)
        let app = KestrelHTTP.makeApplication(service: service, logger: Logger(label: "test"))
        try await app.test(.live) { client in
            let port = try XCTUnwrap(client.port)
            for _ in 0..<3 {
                let socket = try RawSocket(port: port)
                defer { socket.close() }
                let body = #"{"text": "a red circle", "k": 2}"#
                try socket.send("POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
                try socket.send(String(body.prefix(5)))
                // Nothing more until the answer comes (the deadline passes meanwhile).
                let first = socket.receive(until: "\r\n\r\n", timeout: 30)
                XCTAssertTrue(first.hasPrefix("HTTP/1.1 503"), first)
                try? socket.send(String(body.dropFirst(5)))
                try? socket.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                let second = socket.receiveWithEnd(until: "\r\n\r\n", timeout: 10)
                // Either answered or closed: never a hang (the connection left waiting on a body
                // reader that is gone) or a crash.
                XCTAssertFalse(second.timedOut, "the connection hung after the 503")
                XCTAssertTrue(second.text.isEmpty || second.text.hasPrefix("HTTP/1.1"), second.text)
            }
            // The server still serves.
            let r = try await client.execute(uri: "/healthz", method: .get) { $0.status }
            XCTAssertEqual(r, .ok)
        }
    }
}

/// A blocking TCP client socket on 127.0.0.1 (`LoopbackSocket`), for requests a test client
/// cannot send (a body that stops half way).
final class RawSocket {
    private let socket: LoopbackSocket

    init(port: Int) throws { socket = try LoopbackSocket(port: port) }

    func send(_ text: String) throws { try socket.send(text) }

    /// What arrives until `marker` has been seen, the peer closes, or `timeout` seconds pass.
    func receive(until marker: String, timeout: Double) -> String { receiveWithEnd(until: marker, timeout: timeout).text }

    /// `receive`, and whether it ended because the time ran out (neither the marker nor the end
    /// of the connection came).
    func receiveWithEnd(until marker: String, timeout: Double) -> (text: String, timedOut: Bool) {
        socket.setReceiveTimeout(timeout)
        var out: [UInt8] = []
        var timedOut = false
        receiving: while !String(decoding: out, as: UTF8.self).contains(marker) {
            switch socket.receive() {
            case .bytes(let b): out += b
            case .timedOut: timedOut = true; break receiving
            case .closed, .failed: break receiving
            }
        }
        return (String(decoding: out, as: UTF8.self), timedOut)
    }

    func close() { socket.close() }
}
