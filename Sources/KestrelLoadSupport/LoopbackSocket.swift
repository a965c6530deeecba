import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One blocking TCP connection to 127.0.0.1, for clients that must control every byte (tests that
/// send half a body, a slow header, or read until the server closes). POSIX calls only.
public final class LoopbackSocket {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private var fd: Int32

    /// Connects to 127.0.0.1:`port`. Throws `Failure` naming the call and errno.
    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let descriptor = fd
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            Glibc.close(fd)
            throw Failure(description: "connect to 127.0.0.1:\(port): errno \(e)")
        }
    }

    deinit { close() }

    /// Closes the connection (again: nothing).
    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// How long one `receive` waits, seconds (0: for ever).
    public func setReceiveTimeout(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Writes every byte (MSG_NOSIGNAL: a peer that died is an error here, not a SIGPIPE).
    public func send(_ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, $0.count - done, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "send: errno \(errno)") }
            done += n
        }
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// What one receive gave.
    public enum Received {
        case bytes([UInt8])
        /// The peer ended the connection (end of stream, or a reset).
        case closed
        /// The receive timeout ran out.
        case timedOut
        case failed(errno: Int32)
    }

    /// One receive of at most 64 KiB (EINTR retried).
    public func receive() -> Received {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { return .bytes(Array(buffer[0..<n])) }
            if n == 0 { return .closed }
            switch errno {
            case EINTR: continue
            case ECONNRESET: return .closed
            case EAGAIN, EWOULDBLOCK: return .timedOut
            case let e: return .failed(errno: e)
            }
        }
    }
}
