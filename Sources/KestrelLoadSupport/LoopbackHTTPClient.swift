import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 connection to a server on this machine, kept alive between requests: the load
/// generator's and the load test's client (POSIX sockets, blocking, one thread per client).
///
/// Requests carry `Content-Length`; replies are read by `Content-Length` or chunked transfer
/// coding (Hummingbird sends `Content-Length` for bodies it knows whole). When the server closes
/// the connection (`Connection: close`, or an idle close before a request was written), the next
/// request opens a new one; `connections` counts how many were opened. Not thread-safe: one
/// client per thread.
public final class LoopbackHTTPClient {
    public let host: String
    public let port: Int
    /// Seconds a send or a receive may block before the request fails with `LoopbackHTTPError.io`.
    public let timeout: Double
    /// How many TCP connections this client has opened so far.
    public private(set) var connections = 0
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    private var start = 0

    /// `host`: a name or address (127.0.0.1, ::1, localhost: every address it resolves to is
    /// tried in order). Connects lazily, at the first request.
    public init(host: String = "127.0.0.1", port: Int, timeout: Double = 30) {
        self.host = host; self.port = port; self.timeout = timeout
    }

    deinit { close() }

    /// Closes the connection (the next request opens a new one).
    public func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
        buffer.removeAll(keepingCapacity: true)
        start = 0
    }

    /// Sends one request and reads its whole reply. `path` is the request target (`/v1/search?k=3`).
    /// Throws `LoopbackHTTPError` when the connection fails, times out or the reply is not HTTP/1.1
    /// a client can read; a 4xx or 5xx is a reply, not an error.
    public func send(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) throws -> HTTPReply {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" || method == "PATCH" { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        let request = Array(head.utf8) + body
        // A kept-alive connection the server closed while idle fails on write or on the first
        // read with nothing received: that request is sent again once, on a new connection.
        let reused = fd >= 0
        do {
            try connectIfNeeded()
            try writeAll(request)
            return try readReply(method: method)
        } catch LoopbackHTTPError.closedBeforeReply where reused {
            close()
            try connectIfNeeded()
            try writeAll(request)
            return try readReply(method: method)
        }
    }

    /// `send` with a JSON body (`Content-Type: application/json`).
    public func postJSON(_ path: String, _ json: String, headers: [(String, String)] = []) throws -> HTTPReply {
        try send("POST", path, headers: [("Content-Type", "application/json")] + headers, body: Array(json.utf8))
    }

    // MARK: - Connection

    private func connectIfNeeded() throws {
        guard fd < 0 else { return }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let gai = getaddrinfo(host, String(port), &hints, &list)
        guard gai == 0, let first = list else {
            throw LoopbackHTTPError.io("cannot resolve \(host): \(String(cString: gai_strerror(gai)))")
        }
        defer { freeaddrinfo(list) }
        var failure = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        // Every address the name has, in order (localhost: ::1 and 127.0.0.1).
        while let a = entry {
            entry = a.pointee.ai_next
            let s = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            guard s >= 0 else { failure = "socket: \(errnoText())"; continue }
            var one: Int32 = 1
            _ = setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
            _ = setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            _ = setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            if Glibc.connect(s, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 {
                fd = s
                connections += 1
                buffer.removeAll(keepingCapacity: true)
                start = 0
                return
            }
            failure = errnoText()
            _ = Glibc.close(s)
        }
        throw LoopbackHTTPError.io("connect to \(host):\(port): \(failure)")
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                let text = errnoText()
                let broken = errno == EPIPE || errno == ECONNRESET
                close()
                throw broken && sent == 0 ? LoopbackHTTPError.closedBeforeReply : LoopbackHTTPError.io("send: \(text)")
            }
            sent += n
        }
    }

    // MARK: - Reading

    /// Reads more bytes into the buffer; false at end of stream.
    private func fill() throws -> Bool {
        if start > 0 && start == buffer.count { buffer.removeAll(keepingCapacity: true); start = 0 }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 { buffer.append(contentsOf: chunk[0..<n]); return true }
            if n == 0 { return false }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw LoopbackHTTPError.io("no reply within \(timeout) s") }
            if errno == ECONNRESET { return false }
            throw LoopbackHTTPError.io("recv: \(errnoText())")
        }
    }

    /// The next line (without CRLF), reading as needed.
    private func line(_ isFirst: Bool = false) throws -> String {
        while true {
            if let end = findCRLF() {
                let text = String(decoding: buffer[start..<end], as: UTF8.self)
                start = end + 2
                return text
            }
            guard buffer.count - start < 64 * 1024 else { throw LoopbackHTTPError.malformed("a header line longer than 64 KiB") }
            guard try fill() else {
                close()
                throw isFirst && buffer.isEmpty ? LoopbackHTTPError.closedBeforeReply
                                                : LoopbackHTTPError.io("the server closed the connection mid-reply")
            }
        }
    }

    private func findCRLF() -> Int? {
        var i = start
        while i + 1 < buffer.count {
            if buffer[i] == 13 && buffer[i + 1] == 10 { return i }
            i += 1
        }
        return nil
    }

    private func take(_ count: Int) throws -> [UInt8] {
        while buffer.count - start < count {
            guard try fill() else { close(); throw LoopbackHTTPError.io("the server closed the connection mid-body") }
        }
        let out = Array(buffer[start..<(start + count)])
        start += count
        return out
    }

    private func readReply(method: String) throws -> HTTPReply {
        let statusLine = try line(true)
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            close()
            throw LoopbackHTTPError.malformed("status line \"\(statusLine.prefix(80))\"")
        }
        var headers: [(String, String)] = []
        while true {
            let l = try line()
            if l.isEmpty { break }
            guard let colon = l.firstIndex(of: ":") else { close(); throw LoopbackHTTPError.malformed("header line \"\(l.prefix(80))\"") }
            headers.append((String(l[..<colon]).lowercased(), l[l.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let reply = HTTPReply(status: status, headers: headers, body: [])
        var body: [UInt8] = []
        if method == "HEAD" || status == 204 || status == 304 || (100..<200).contains(status) {
            // no body
        } else if reply.header("transfer-encoding")?.lowercased().contains("chunked") == true {
            while true {
                let sizeLine = try line()
                guard let size = Int(sizeLine.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? "", radix: 16),
                      size >= 0 else { close(); throw LoopbackHTTPError.malformed("chunk size \"\(sizeLine.prefix(40))\"") }
                if size == 0 {
                    while try !line().isEmpty {}  // trailers
                    break
                }
                body += try take(size)
                guard try line().isEmpty else { close(); throw LoopbackHTTPError.malformed("no CRLF after a chunk") }
            }
        } else if let length = reply.header("content-length") {
            guard let n = Int(length), n >= 0 else { close(); throw LoopbackHTTPError.malformed("Content-Length \"\(length)\"") }
            body = try take(n)
        } else {
            // Delimited by the end of the connection.
            while try fill() {}
            body = Array(buffer[start...])
            close()
        }
        if reply.header("connection")?.lowercased() == "close" || statusLine.hasPrefix("HTTP/1.0") { close() }
        return HTTPReply(status: status, headers: headers, body: body)
    }
}

/// A reply read by `LoopbackHTTPClient`: status, headers (names lower-cased, in order), body.
public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// The first header of that name (case-insensitive), or nil.
    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first { $0.0 == n }?.1
    }
    /// The body as UTF-8 text (invalid bytes as U+FFFD).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Why a request got no readable reply.
public enum LoopbackHTTPError: Error, CustomStringConvertible, Equatable {
    /// Connecting, sending or receiving failed, or timed out.
    case io(String)
    /// The server closed a kept-alive connection before any byte of the reply (retried once).
    case closedBeforeReply
    /// The reply is not HTTP/1.x this client can read.
    case malformed(String)

    public var description: String {
        switch self {
        case .io(let m): return "connection: \(m)"
        case .closedBeforeReply: return "connection: closed by the server before a reply"
        case .malformed(let m): return "malformed reply: \(m)"
        }
    }
}

private func errnoText() -> String { String(cString: strerror(errno)) }
