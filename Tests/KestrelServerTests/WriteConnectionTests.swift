import Foundation
import KestrelEngine
import KestrelLoadSupport
import KestrelServer
import KestrelTestSupport
import Logging
import ServiceLifecycle
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Connections over loopback: a stalled request head is cut off by the idle timeout, and early
/// refusals (401, 403, 413) end their connection instead of reading the rest of a large body.
final class WriteConnectionTests: XCTestCase {
    static let key = "connection-test-key"

    /// Runs the service's application on a free loopback port for `body`, then stops it.
    func withServer(_ configuration: ServerConfiguration, _ body: (Int) async throws -> Void) async throws {
        var configuration = configuration
        configuration.port = 0
        let fixture = try ServerFixture.make(configuration: configuration)
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test")) { portSink.yield($0) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        var next = ports.makeAsyncIterator()
        guard let port = await next.next() else { throw FixtureError("the server did not start") }
        do {
            try await body(port)
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await running.value
    }

    func testAStalledRequestHeadIsClosedAfterTheIdleTimeout() async throws {
        var configuration = ServerConfiguration()
        configuration.idleTimeout = 1
        try await withServer(configuration) { port in
            // Headers that never end (a slow-headers client): closed by the server, no answer.
            let stalled = try RawConnection(port: port)
            try stalled.send(Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n".utf8))
            let cut = try stalled.readUntilClosed(seconds: 30)
            XCTAssertTrue(cut.closed, "the server kept a stalled request head open past its idle timeout")
            // A keep-alive connection that goes quiet after an answer is closed the same way.
            let idle = try RawConnection(port: port)
            try idle.send(Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
            let answered = try idle.readUntilClosed(seconds: 30)
            XCTAssertTrue(answered.closed)
            XCTAssertTrue(answered.text.hasPrefix("HTTP/1.1 200"), answered.text)
        }
    }

    func testEarlyRefusalsEndTheirConnection() async throws {
        var configuration = ServerConfiguration()
        configuration.apiKey = WriteConnectionTests.key
        configuration.limits.maxBodyBytes = 1000
        try await withServer(configuration) { port in
            // Each claims a 50 MB body and sends only its start: the answer comes, then the end of
            // the connection, without the server waiting for (or reading) the rest.
            let cases: [(String, String)] = [
                ("", "401"), ("Authorization: Bearer wrong\r\n", "403"), ("X-API-Key: \(WriteConnectionTests.key)\r\n", "413"),
            ]
            for (keyHeader, status) in cases {
                let connection = try RawConnection(port: port)
                let head = "POST /v1/items HTTP/1.1\r\nHost: 127.0.0.1\r\n\(keyHeader)Content-Type: image/png\r\nContent-Length: 50000000\r\n\r\n"
                try connection.send(Array(head.utf8) + [UInt8](repeating: 0x42, count: 2000))
                let answer = try connection.readUntilClosed(seconds: 30)
                XCTAssertTrue(answer.text.hasPrefix("HTTP/1.1 \(status)"), "\(status): \(answer.text)")
                XCTAssertTrue(answer.text.lowercased().contains("connection: close"), answer.text)
                XCTAssertTrue(answer.closed, "\(status): the connection stayed open waiting for the rest of the body")
            }
            // A request that is not refused keeps its connection for the next one.
            let kept = try RawConnection(port: port)
            try kept.send(Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
            let both = try kept.readUntilClosed(seconds: 30)
            XCTAssertEqual(both.text.components(separatedBy: "HTTP/1.1 200").count - 1, 2, both.text)
        }
    }
}

/// One TCP connection to 127.0.0.1 (`LoopbackSocket`), read until the server ends it.
final class RawConnection {
    let socket: LoopbackSocket

    init(port: Int) throws { socket = try LoopbackSocket(port: port) }

    func send(_ bytes: [UInt8]) throws { try socket.send(bytes) }

    /// Everything received until the server ends the connection (`closed`: end of stream or a
    /// reset), or until `seconds` pass without it (`closed` false).
    func readUntilClosed(seconds: Int) throws -> (text: String, closed: Bool) {
        socket.setReceiveTimeout(Double(seconds))
        var data: [UInt8] = []
        while true {
            switch socket.receive() {
            case .bytes(let b): data += b
            case .closed: return (String(decoding: data, as: UTF8.self), true)
            case .timedOut, .failed: return (String(decoding: data, as: UTF8.self), false)
            }
        }
    }
}
