import Foundation
import KestrelLoadSupport
import KestrelTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `kestrel serve` run as a user runs it: options, start-up errors, the URL it prints, and a
/// graceful stop on SIGTERM that still answers the request in flight. HTTP goes over loopback.
final class ServeCommandTests: XCTestCase {
    static let model = "Tests/Fixtures/models/hf-tiny"
    let key = "serve-test-key-42"

    func testOptionsAreValidatedByName() throws {
        let index = try ServeTesting.makeIndex()
        let cases: [([String], String)] = [
            (["--port", "70000"], "--port"), (["--port", "-1"], "--port"),
            (["--max-body-bytes", "0"], "--max-body-bytes"), (["--max-image-pixels", "-5"], "--max-image-pixels"),
            (["--max-k", "0"], "--max-k"), (["--max-k", "1000000000000"], "--max-k"),
            (["--max-query-characters", "0"], "--max-query-characters"), (["--max-batch", "0"], "--max-batch"),
            (["--request-timeout", "0"], "--request-timeout"), (["--request-timeout", "nan"], "--request-timeout"),
            (["--request-timeout", "-3"], "--request-timeout"),
            (["--cors-origin", "example.com"], "--cors-origin"), (["--cors-origin", "https://a.example/path"], "--cors-origin"),
            (["--cors-origin", "*"], "--cors-origin"), (["--host", ""], "--host"), (["--api-key-file", ""], "--api-key-file"),
            (["--index", ""], "--index"), (["--model", ""], "--model"),
            (["--max-json-body-bytes", "0"], "--max-json-body-bytes"), (["--idle-timeout", "0"], "--idle-timeout"),
            (["--idle-timeout", "inf"], "--idle-timeout"), (["--index-save-interval", "0.5"], "--index-save-interval"),
            (["--index-save-interval", "nan"], "--index-save-interval"),
        ]
        for (extra, option) in cases {
            let r = try Kestrel.run(["serve", "--index", index.path, "--port", "0"] + extra)
            XCTAssertEqual(r.status, 64, "\(extra): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(option), "\(extra): \(r.stderr)")
        }
        // Both key sources: a usage error naming both.
        let keyFile = index.deletingLastPathComponent().appendingPathComponent("key.txt")
        try Data("k\n".utf8).write(to: keyFile)
        let both = try Kestrel.run(["serve", "--index", index.path, "--port", "0", "--api-key-file", keyFile.path],
                                   environment: ["KESTREL_API_KEY": "k"])
        XCTAssertEqual(both.status, 64, both.stderr)
        XCTAssertTrue(both.stderr.contains("KESTREL_API_KEY") && both.stderr.contains("--api-key-file"), both.stderr)
    }

    func testStartUpErrorsNameWhatIsWrong() throws {
        let index = try ServeTesting.makeIndex()
        let missing = index.deletingLastPathComponent().appendingPathComponent("no-such-index")
        let noIndex = try Kestrel.run(["serve", "--index", missing.path, "--port", "0"])
        XCTAssertEqual(noIndex.status, 1, noIndex.stderr)
        XCTAssertTrue(noIndex.stderr.contains("no-such-index") && noIndex.stderr.contains("does not exist"), noIndex.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing.path), "serve must not create an index")

        let absent = index.deletingLastPathComponent().appendingPathComponent("absent-key.txt")
        let noFile = try Kestrel.run(["serve", "--index", index.path, "--port", "0", "--api-key-file", absent.path])
        XCTAssertEqual(noFile.status, 1, noFile.stderr)
        XCTAssertTrue(noFile.stderr.contains(absent.path), noFile.stderr)

        let empty = index.deletingLastPathComponent().appendingPathComponent("empty-key.txt")
        try Data("   \n".utf8).write(to: empty)
        let emptyKey = try Kestrel.run(["serve", "--index", index.path, "--port", "0", "--api-key-file", empty.path])
        XCTAssertEqual(emptyKey.status, 1, emptyKey.stderr)
        XCTAssertTrue(emptyKey.stderr.contains(empty.path) && emptyKey.stderr.contains("no API key"), emptyKey.stderr)
    }

    /// SIGTERM while an upload's body is still arriving: the server stops accepting connections,
    /// answers that upload (201, stored), saves the index and exits 0.
    func testSIGTERMAnswersTheRequestInFlightAndExitsZero() throws {
        let index = try ServeTesting.makeIndex()
        let keyFile = index.deletingLastPathComponent().appendingPathComponent("key.txt")
        try Data("\(key)\nignored second line\n".utf8).write(to: keyFile)
        let server = try ServeProcess.start(index: index, extra: ["--api-key-file", keyFile.path])
        XCTAssertTrue(server.stderrText.contains("(writable)"), server.stderrText)

        let png = TinyPNG.solid(width: 48, height: 40, red: 120, green: 30, blue: 220)
        let connection = try LoopbackConnection(port: server.port)
        let head = "POST /v1/items HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\nContent-Type: image/png\r\n"
            + "Content-Length: \(png.count)\r\nConnection: close\r\n\r\n"
        try connection.send(Array(head.utf8) + png.prefix(png.count / 2))
        usleep(300_000)  // let the server take the request head before the signal
        XCTAssertEqual(kill(server.pid, SIGTERM), 0)
        // Shutdown has begun: the listening socket closes while our request is still open.
        XCTAssertTrue(ServeTesting.waitUntil(seconds: 20) { (try? LoopbackConnection(port: server.port)) == nil },
                      "the server kept accepting connections after SIGTERM")
        try connection.send(Array(png.suffix(from: png.count / 2)))
        let answer = try connection.readResponse()
        XCTAssertEqual(answer.status, 201, answer.text)
        let id = try XCTUnwrap(answer.json["id"] as? Int)
        let status = server.waitForExit(seconds: 60)
        XCTAssertEqual(status, 0, server.stderrText)

        // Stored and indexed: a read-only server finds it by its own content.
        let stats = try Kestrel.run(["index", "stats", "--index", index.path, "--json"])
        let s = try XCTUnwrap(try stats.jsonLines().first)
        XCTAssertEqual(s["items"] as? Int, s["indexed"] as? Int)
        let list = try Kestrel.run(["index", "list", "--index", index.path, "--json"])
        XCTAssertTrue(list.stdout.contains("\"id\":\(id)") || list.stdout.contains("\"id\": \(id)"), list.stdout)

        // A server without a key is read-only.
        let readOnly = try ServeProcess.start(index: index, extra: [])
        XCTAssertTrue(readOnly.stderrText.contains("(read-only)"), readOnly.stderrText)
        let refused = try LoopbackHTTP.request(port: readOnly.port, method: "POST", path: "/v1/items",
                                               headers: ["Authorization": "Bearer \(key)", "Content-Type": "image/png"], body: png)
        XCTAssertEqual(refused.status, 403, refused.text)
        XCTAssertEqual((refused.json["error"] as? [String: Any])?["code"] as? String, "read_only")
        kill(readOnly.pid, SIGTERM)
        XCTAssertEqual(readOnly.waitForExit(seconds: 60), 0, readOnly.stderrText)
    }
}

// MARK: - Helpers shared with ServeKillTests

enum ServeTesting {
    /// A fresh index of samples/images made with the tiny test model. Returns its folder.
    static func makeIndex() throws -> URL {
        let index = Fixtures.temporaryDirectory("kestrel-serve").appendingPathComponent("ix")
        let r = try Kestrel.run(["index", "add", "--index", index.path, "--model", ServeCommandTests.model, "--quiet", "samples/images"])
        guard r.status == 0 else { throw ServeTestError("index add failed: \(r.stderr)") }
        return index
    }

    /// Polls `condition` every 50 ms for at most `seconds`.
    static func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }
}

struct ServeTestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A running `kestrel serve --port 0`, its port read from the line it prints on stderr.
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var stderrBytes = Data()
    private(set) var port = 0
    var pid: Int32 { process.processIdentifier }
    var stderrText: String { lock.lock(); defer { lock.unlock() }; return String(decoding: stderrBytes, as: UTF8.self) }

    static func start(index: URL, extra: [String], environment: [String: String] = [:]) throws -> ServeProcess {
        let server = ServeProcess()
        let p = server.process
        p.executableURL = Kestrel.binary
        p.arguments = ["serve", "--index", index.path, "--port", "0"] + extra
        p.currentDirectoryURL = Fixtures.repoRoot
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "KESTREL_API_KEY")
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        err.fileHandleForReading.readabilityHandler = { [weak server] handle in
            let data = handle.availableData
            guard let server, !data.isEmpty else { return }
            server.lock.lock(); server.stderrBytes.append(data); server.lock.unlock()
        }
        try p.run()
        let ready = ServeTesting.waitUntil(seconds: 120) {
            !p.isRunning || server.listeningPort() != nil
        }
        guard ready, let port = server.listeningPort() else {
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            throw ServeTestError("kestrel serve did not start: \(server.stderrText)")
        }
        server.port = port
        return server
    }

    /// The port of "serving ... on http://127.0.0.1:PORT/".
    func listeningPort() -> Int? {
        let text = stderrText
        guard let range = text.range(of: "on http://127.0.0.1:") else { return nil }
        let digits = text[range.upperBound...].prefix { $0.isNumber }
        guard text[range.upperBound...].dropFirst(digits.count).first == "/" else { return nil }
        return Int(digits)
    }

    /// The exit status once it exits within `seconds` (nil: still running, then killed).
    func waitForExit(seconds: Double) -> Int32? {
        if !ServeTesting.waitUntil(seconds: seconds, { !process.isRunning }) {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? -process.terminationStatus : process.terminationStatus
    }

    deinit { if process.isRunning { kill(pid, SIGKILL) } }
}

/// An HTTP/1.1 answer.
struct HTTPAnswer {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:] }
}

/// One TCP connection to 127.0.0.1 (loopback only; `LoopbackSocket`), answers read as HTTP/1.1.
final class LoopbackConnection {
    let socket: LoopbackSocket

    init(port: Int) throws {
        do { socket = try LoopbackSocket(port: port) } catch { throw ServeTestError("\(error)") }
        socket.setReceiveTimeout(120)
    }

    /// Writes every byte.
    func send(_ bytes: [UInt8]) throws {
        do { try socket.send(bytes) } catch { throw ServeTestError("\(error)") }
    }

    /// Reads one response: the head, then Content-Length bytes (or up to the close).
    func readResponse() throws -> HTTPAnswer {
        var data: [UInt8] = []
        func fill() throws -> Bool {
            switch socket.receive() {
            case .bytes(let b): data += b; return true
            case .closed: return false
            case .timedOut: throw ServeTestError("recv: errno \(EAGAIN)")
            case .failed(let e): throw ServeTestError("recv: errno \(e)")
            }
        }
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            guard try fill() else { throw ServeTestError("the connection closed before a response (\(data.count) bytes)") }
            if data.count >= 4 { headEnd = (0...(data.count - 4)).first { Array(data[$0..<($0 + 4)]) == separator } }
        }
        let head = String(decoding: data[0..<headEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw ServeTestError("bad status line \(head[0])") }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let bodyStart = headEnd! + 4
        if let length = headers["content-length"].flatMap(Int.init) {
            while data.count < bodyStart + length { guard try fill() else { break } }
            return HTTPAnswer(status: status, headers: headers, body: Array(data[bodyStart..<min(data.count, bodyStart + length)]))
        }
        while try fill() {}
        return HTTPAnswer(status: status, headers: headers, body: Array(data[bodyStart...]))
    }
}

enum LoopbackHTTP {
    /// One request on its own connection (`Connection: close`).
    static func request(port: Int, method: String, path: String, headers: [String: String] = [:], body: [UInt8] = []) throws -> HTTPAnswer {
        let connection = try LoopbackConnection(port: port)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        for (k, v) in headers.sorted(by: { $0.key < $1.key }) { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        try connection.send(Array(head.utf8) + body)
        return try connection.readResponse()
    }

    static func json(port: Int, path: String, _ object: [String: Any]) throws -> HTTPAnswer {
        try request(port: port, method: "POST", path: path, headers: ["Content-Type": "application/json"],
                    body: [UInt8](try JSONSerialization.data(withJSONObject: object)))
    }
}
