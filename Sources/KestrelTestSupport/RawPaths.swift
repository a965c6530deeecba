import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// File names as bytes, for tests of names that Swift strings cannot hold or tell apart
/// (Latin-1 bytes that are not UTF-8; NFC and NFD spellings of the same text).
public enum RawPaths {
    /// `dir` + "/" + `name` as bytes.
    public static func join(_ dir: URL, _ name: [UInt8]) -> [UInt8] { Array(dir.path.utf8) + [0x2F] + name }

    /// Writes `data` to the file at the byte path `path` (created or truncated).
    public static func write(_ data: Data, to path: [UInt8]) throws {
        let fd = withCPath(path) { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        guard fd >= 0 else { throw failure("open", path) }
        defer { close(fd) }
        let bytes = [UInt8](data)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw failure("write", path) }
            done += n
        }
    }

    public static func makeDirectory(_ path: [UInt8]) throws {
        guard withCPath(path, { mkdir($0, 0o755) }) == 0 else { throw failure("mkdir", path) }
    }

    public static func makeFIFO(_ path: [UInt8]) throws {
        guard withCPath(path, { mkfifo($0, 0o644) }) == 0 else { throw failure("mkfifo", path) }
    }

    public static func remove(_ path: [UInt8]) throws {
        guard withCPath(path, { unlink($0) }) == 0 else { throw failure("unlink", path) }
    }

    public static func exists(_ path: [UInt8]) -> Bool {
        var st = stat()
        return withCPath(path) { lstat($0, &st) } == 0
    }

    /// The names in folder `dir`, as bytes, sorted bytewise (no "." or "..").
    public static func names(in dir: [UInt8]) -> [[UInt8]] {
        guard let d = withCPath(dir, { opendir($0) }) else { return [] }
        defer { closedir(d) }
        var out: [[UInt8]] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name != [0x2E] && name != [0x2E, 0x2E] { out.append(name) }
        }
        return out.sorted { $0.lexicographicallyPrecedes($1) }
    }

    static func withCPath<T>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
        (path + [0]).withUnsafeBufferPointer { b in b.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
    }

    static func failure(_ call: String, _ path: [UInt8]) -> NSError {
        NSError(domain: "RawPaths", code: Int(errno),
                userInfo: [NSLocalizedDescriptionKey: "\(call) \(String(decoding: path, as: UTF8.self)): \(String(cString: strerror(errno)))"])
    }
}

extension Kestrel {
    /// Runs `kestrel` with arguments given as exact bytes (a Swift `Process` can only pass
    /// UTF-8 strings): a shell rebuilds each argument from octal escapes and execs the binary.
    @discardableResult
    public static func run(rawArguments args: [[UInt8]], directory: URL? = nil) throws -> CommandResult {
        var script = ""
        for (i, arg) in args.enumerated() {
            let octal = arg.map { String(format: "\\%03o", $0) }.joined()
            // The trailing "x" keeps trailing newlines that $(...) would strip.
            script += "a\(i)=\"$(printf '\(octal)'; printf x)\"; a\(i)=\"${a\(i)%x}\"\n"
        }
        // `timeout` turns a hang (a FIFO read forever) into a failed test instead of a stuck suite.
        script += "exec timeout 120 \"$KESTREL_BINARY\"" + args.indices.map { " \"$a\($0)\"" }.joined() + "\n"
        return try run(shell: script, directory: directory)
    }

    /// Runs `script` with /bin/sh; `$KESTREL_BINARY` is the built binary.
    @discardableResult
    public static func run(shell script: String, directory: URL? = nil) throws -> CommandResult {
        try launch(URL(fileURLWithPath: "/bin/sh"), ["-c", script], directory: directory)
    }
}
