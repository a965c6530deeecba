import Foundation
import KestrelFiles
import KestrelImage

/// What one source produced: its manifest lines and its evaluation CSVs.
public struct SourceOutput: Sendable {
    public var entries: [ManifestEntry] = []
    /// CSV file name under eval/ -> (header, rows). Row paths are relative to the data folder;
    /// the writer makes them relative to eval/.
    public var evalFiles: [String: (header: [String], rows: [[String]])] = [:]
    public init() {}
}

/// Writes image files under the (partial) data folder, returning their SHA-256.
public struct ImageSink: Sendable {
    public let root: URL
    public init(root: URL) { self.root = root }

    /// Makes `relativeFolder` (and parents) under the root.
    public func makeFolder(_ relativeFolder: String) throws {
        let url = root.appendingPathComponent(relativeFolder)
        do { try FileSystem.makeDirectories(FilePathBytes(url.path)) } catch {
            throw DataBuildError.writeFailed(path: url.path, detail: Self.reason(error))
        }
    }

    /// Encodes 8-bit pixels as PNG at `relativePath` and returns the hex SHA-256 of the file's bytes.
    public func writePNG(_ relativePath: String, pixels: [UInt8], width: Int, height: Int, channels: Int) throws -> String {
        let png: [UInt8]
        do { png = try PNGEncoder.encode(pixels: pixels, width: width, height: height, channels: channels, name: relativePath) } catch {
            throw DataBuildError.writeFailed(path: relativePath, detail: "\(error)")
        }
        try write(png, to: relativePath)
        return SHA256.hex(SHA256.hash(png))
    }

    public func write(_ bytes: [UInt8], to relativePath: String) throws {
        let url = root.appendingPathComponent(relativePath)
        do { try FileSystem.writeFileAtomically(bytes, to: FilePathBytes(url.path)) } catch {
            throw DataBuildError.writeFailed(path: url.path, detail: Self.reason(error))
        }
    }

    /// The system's words for a failed write ("cannot create the folder: Permission denied"), without the path the caller names.
    static func reason(_ error: Error) -> String { (error as? FileError)?.reason ?? ErrorText.plain(error) }
}

/// Runs `body(i)` for i in 0..<count over `threads` threads; results in index order. The first
/// error thrown stops handing out new indices and is rethrown.
public func parallelMap<T: Sendable>(_ count: Int, threads: Int, _ body: @Sendable @escaping (Int) throws -> T) throws -> [T] {
    let state = ParallelMapState<T>(count)
    let workers = max(1, min(threads, count))
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
        while true {
            state.lock.lock()
            if state.error != nil || state.next >= count { state.lock.unlock(); return }
            let i = state.next
            state.next += 1
            state.lock.unlock()
            do {
                let r = try body(i)
                state.lock.lock(); state.results[i] = r; state.lock.unlock()
            } catch {
                state.lock.lock(); if state.error == nil { state.error = error }; state.lock.unlock()
                return
            }
        }
    }
    if let e = state.error { throw e }
    return state.results.map { $0! }
}

/// Shared state of one `parallelMap` call (guarded by its lock).
final class ParallelMapState<T>: @unchecked Sendable {
    let lock = NSLock()
    var next = 0
    var results: [T?]
    var error: Error?
    init(_ n: Int) { results = [T?](repeating: nil, count: n) }
}

/// Small text helpers shared by the sources.
public enum DataText {
    /// RFC 4180 field: quoted when it holds a comma, quote, CR or LF (quotes doubled).
    public static func csvField(_ s: String) -> String {
        if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return s
    }

    /// One CSV document (CRLF line ends as RFC 4180 says).
    public static func csv(header: [String], rows: [[String]]) -> String {
        var out = header.map(csvField).joined(separator: ",") + "\r\n"
        for r in rows { out += r.map(csvField).joined(separator: ",") + "\r\n" }
        return out
    }

    /// FNV-1a 64 of the bytes mixed with a seed (splitmix64 finaliser): a stable hash for held-out
    /// splits that does not depend on the Swift runtime's per-process hashing.
    public static func stableHash(_ bytes: [UInt8], seed: UInt64) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for b in bytes { h ^= UInt64(b); h = h &* 0x100_0000_01b3 }
        h ^= h >> 30; h = h &* 0xbf58_476d_1ce4_e5b9
        h ^= h >> 27; h = h &* 0x94d0_49bb_1331_11eb
        return h ^ (h >> 31)
    }

    /// True for the ~`percent`% of keys held out.
    public static func isHeldOut(_ key: [UInt8], seed: UInt64, percent: UInt64 = 10) -> Bool {
        stableHash(key, seed: seed) % 100 < percent
    }

    /// Lowercase ASCII words joined by dashes, for file names ("Dog Face" -> "dog-face").
    public static func slug(_ s: String, maxLength: Int = 48) -> String {
        var out = ""
        var dash = false
        for u in s.lowercased().unicodeScalars {
            if (u >= "a" && u <= "z") || (u >= "0" && u <= "9") {
                if dash && !out.isEmpty { out.append("-") }
                dash = false
                out.unicodeScalars.append(u)
            } else { dash = true }
        }
        if out.count > maxLength { out = String(out.prefix(maxLength)) }
        return out.isEmpty ? "x" : out
    }

    /// "a" or "an" before a phrase.
    public static func article(_ phrase: String) -> String {
        guard let f = phrase.lowercased().first else { return "a" }
        return "aeiou".contains(f) ? "an" : "a"
    }
}
