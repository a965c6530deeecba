#if canImport(Glibc)
import Glibc
#endif

/// What kind of file a path names.
public enum FileKind: Sendable, Equatable {
    case regular, directory, fifo, characterDevice, blockDevice, socket, symbolicLink, unknown

    init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFIFO: self = .fifo
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFSOCK: self = .socket
        case S_IFLNK: self = .symbolicLink
        default: self = .unknown
        }
    }

    /// "a FIFO", "a directory", ... for messages.
    public var phrase: String {
        switch self {
        case .regular: return "a regular file"
        case .directory: return "a directory"
        case .fifo: return "a FIFO"
        case .characterDevice: return "a character device"
        case .blockDevice: return "a block device"
        case .socket: return "a socket"
        case .symbolicLink: return "a symbolic link"
        case .unknown: return "not a regular file"
        }
    }
}

/// What `stat` says of a file.
public struct FileStatus: Sendable, Equatable {
    public var kind: FileKind
    /// Size in bytes (meaningful for regular files).
    public var size: UInt64
    /// Modification time in nanoseconds since 1970.
    public var mtimeNanoseconds: Int64
    public var device: UInt64
    public var inode: UInt64

    init(_ st: stat) {
        kind = FileKind(mode: st.st_mode)
        size = UInt64(max(0, st.st_size))
        mtimeNanoseconds = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }
}

/// A file operation that failed. `description` is "PATH: reason" with the path escaped for a
/// terminal; `reason` is the same without the path.
public enum FileError: Error, Equatable, Sendable, CustomStringConvertible {
    case notFound(path: FilePathBytes)
    /// A FIFO, a directory, a device... where a regular file was needed. Nothing was read.
    case notRegularFile(path: FilePathBytes, kind: FileKind)
    /// A regular file, a FIFO... where a folder was needed (or one to be created).
    case notDirectory(path: FilePathBytes, kind: FileKind)
    /// A regular file larger than the caller's limit (bytes). Nothing was read.
    case tooLarge(path: FilePathBytes, size: UInt64, limit: Int)
    /// Any other failure of a system call, with `strerror`'s text.
    case system(path: FilePathBytes, operation: String, code: Int32, message: String)

    public var path: FilePathBytes {
        switch self {
        case .notFound(let p), .notRegularFile(let p, _), .notDirectory(let p, _), .tooLarge(let p, _, _), .system(let p, _, _, _): return p
        }
    }

    public var reason: String {
        switch self {
        case .notFound: return "no such file or folder"
        case .notRegularFile(_, .directory): return "is a directory, not a regular file"
        case .notRegularFile(_, let kind): return "is \(kind.phrase), not a regular file"
        case .notDirectory(_, let kind): return "is \(kind.phrase), not a folder"
        case .tooLarge(_, let size, let limit):
            return "is \(FileError.bytes(Int(clamping: size))), larger than the limit of \(FileError.bytes(limit)) for one file; nothing was read"
        case .system(_, let op, _, let message): return "cannot \(op): \(message)"
        }
    }

    public var description: String { "\(path): \(reason)" }

    /// "600 MiB", "12 KiB", "17 bytes".
    static func bytes(_ n: Int) -> String {
        if n >= 1 << 20 && n % (1 << 20) == 0 { return "\(n >> 20) MiB" }
        if n >= 1 << 20 { return "\(n >> 20) MiB (\(n) bytes)" }
        if n >= 1 << 10 && n % (1 << 10) == 0 { return "\(n >> 10) KiB" }
        return "\(n) bytes"
    }
}

/// File-system operations on byte paths (no Foundation, no String round trip).
public enum FileSystem {
    /// `stat` (following symbolic links), or `lstat` with `followLinks: false`.
    public static func status(_ path: FilePathBytes, followLinks: Bool = true) throws -> FileStatus {
        var st = stat()
        let rc = path.withCString { followLinks ? stat($0, &st) : lstat($0, &st) }
        guard let rc else { throw FileError.notFound(path: path) }
        guard rc == 0 else { throw failure(path, "stat") }
        return FileStatus(st)
    }

    /// Whether something is at `path` (a dangling symbolic link counts as nothing). Errors other
    /// than "no such file" (a folder without permission...) count as "it may be there": true.
    public static func exists(_ path: FilePathBytes) -> Bool {
        do { _ = try status(path); return true } catch FileError.notFound { return false } catch { return true }
    }

    /// The names in folder `path` (not "." or ".."), in the order the file system gives.
    public static func listDirectory(_ path: FilePathBytes) throws -> [[UInt8]] {
        guard let d = try path.withCString({ p -> OpaquePointer? in
            guard let d = opendir(p) else { throw failure(path, "list the folder") }
            return d
        }) ?? nil else { throw FileError.notFound(path: path) }
        defer { closedir(d) }
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(d) else {
                if errno != 0 { throw failure(path, "list the folder") }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
        }
        return names
    }

    /// The whole content of a regular file of at most `limit` bytes. Never blocks and never reads
    /// without end: the file is opened non-blocking and checked with `fstat` before reading, so a
    /// FIFO, a directory or a device (`/dev/zero`) is refused by kind, and a file larger than
    /// `limit` by size, before any byte is read.
    public static func readFile(_ path: FilePathBytes, limit: Int) throws -> [UInt8] {
        try withOpenRegularFile(path) { fd, st in
            guard st.size <= UInt64(max(0, limit)) else { throw FileError.tooLarge(path: path, size: st.size, limit: limit) }
            var out = [UInt8](repeating: 0, count: Int(st.size))
            var done = 0
            // Read what fstat promised; a file that grew meanwhile is read up to its old size.
            while done < out.count {
                let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw failure(path, "read")
                }
                if n == 0 { break }
                done += n
            }
            if done < out.count { out.removeSubrange(done...) }
            return out
        }
    }

    /// At most `count` bytes from the start of a regular file (fewer when it is shorter).
    public static func readHead(_ path: FilePathBytes, count: Int) throws -> [UInt8] {
        try withOpenRegularFile(path) { fd, _ in
            var out = [UInt8](repeating: 0, count: max(0, count))
            var done = 0
            while done < out.count {
                let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
                if n < 0 { if errno == EINTR { continue }; throw failure(path, "read") }
                if n == 0 { break }
                done += n
            }
            return Array(out.prefix(done))
        }
    }

    /// Creates folder `path` and the folders above it that are missing (`mkdir -p`); a folder
    /// that exists is fine, anything else there is an error (`FileError.notDirectory` for a
    /// file, a FIFO... in the way).
    public static func makeDirectories(_ path: FilePathBytes, mode: mode_t = 0o755) throws {
        if let kind = (try? status(path))?.kind {
            if kind == .directory { return }
            throw FileError.notDirectory(path: path, kind: kind)
        }
        let up = path.parent
        if up.bytes != path.bytes && up.bytes != [0x2E] && up.bytes != [0x2F] { try makeDirectories(up, mode: mode) }
        guard let rc = path.withCString({ mkdir($0, mode) }) else { throw FileError.notFound(path: path) }
        if rc != 0 && !(errno == EEXIST && (try? status(path))?.kind == .directory) { throw failure(path, "create the folder") }
    }

    /// Deletes the file (not folder) `path`; one that is not there is fine.
    public static func removeFile(_ path: FilePathBytes) throws {
        guard let rc = path.withCString({ unlink($0) }) else { return }
        if rc != 0 && errno != ENOENT { throw failure(path, "delete") }
    }

    /// Deletes the empty folder `path`.
    public static func removeDirectory(_ path: FilePathBytes) throws {
        guard let rc = path.withCString({ rmdir($0) }) else { throw FileError.notFound(path: path) }
        if rc != 0 { throw failure(path, "delete the folder") }
    }

    /// rename(2): moves `from` to `to`, replacing a file (or an empty folder) there.
    public static func rename(_ from: FilePathBytes, to: FilePathBytes) throws {
        guard let rc = from.withCString({ f in to.withCString { t in Glibc.rename(f, t) } }) ?? nil else {
            throw FileError.notFound(path: from)
        }
        if rc != 0 { throw failure(from, "move it to \(to)") }
    }

    /// Writes `data` to `path` atomically: to a temporary file next to it, then renamed over it.
    public static func writeFileAtomically(_ data: [UInt8], to path: FilePathBytes) throws {
        let temp = path.parent.appending(Array(".".utf8) + path.lastComponent + Array(".tmp".utf8))
        guard let fd = temp.withCString({ open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }) else {
            throw FileError.notFound(path: path)
        }
        guard fd >= 0 else { throw failure(temp, "create") }
        var done = 0
        while done < data.count {
            let n = data.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { let e = failure(temp, "write"); close(fd); _ = try? removeFile(temp); throw e }
            done += n
        }
        close(fd)
        do { try rename(temp, to: path) } catch { try? removeFile(temp); throw error }
    }

    /// Writes `data` to `path` durably: to a new temporary file next to it (`.<name>.tmp`; a
    /// leftover of an earlier crash there is removed first), every byte written, the file
    /// fsynced and closed, renamed over `path`, and the folder fsynced, so that once this returns
    /// the file and its name survive a crash or a power cut. On failure `path` is as it was and
    /// the temporary file is gone. The temporary file is created exclusively (never through a
    /// link planted at its name). Throws `FileError` naming the step that failed.
    public static func writeFileDurably(_ data: [UInt8], to path: FilePathBytes, mode: mode_t = 0o644) throws {
        let folder = path.parent
        let temp = folder.appending(Array(".".utf8) + path.lastComponent + Array(".tmp".utf8))
        try? removeFile(temp)
        guard let fd = temp.withCString({ open($0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode) }) else {
            throw FileError.notFound(path: path)
        }
        guard fd >= 0 else { throw failure(temp, "create") }
        var written: FileError?
        var done = 0
        while done < data.count {
            let n = data.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { written = n < 0 ? failure(temp, "write") : .system(path: temp, operation: "write", code: EIO, message: "no byte was written"); break }
            done += n
        }
        if written == nil, fsync(fd) != 0 { written = failure(temp, "fsync") }
        // Closed exactly once, whatever happened: after close(2) fails the descriptor is released
        // anyway, and closing it again could close another thread's file.
        if close(fd) != 0, written == nil { written = failure(temp, "close") }
        if let written {
            try? removeFile(temp)
            throw written
        }
        do { try rename(temp, to: path) } catch { try? removeFile(temp); throw error }
        try syncDirectory(folder)
    }

    /// fsync(2) of folder `path`: the entries made or removed in it (a rename, an unlink, a new
    /// file) reach the disk. Throws `FileError` (`.notFound` for a missing folder).
    public static func syncDirectory(_ path: FilePathBytes) throws {
        guard let fd = path.withCString({ open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }) else { throw FileError.notFound(path: path) }
        guard fd >= 0 else { throw failure(path, "open the folder") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw failure(path, "fsync the folder") }
    }

    /// Calls `body` with the whole content of the regular file `path`, mapped read-only (no copy
    /// in memory: for large files such as an index). A FIFO, a folder or a device is refused by
    /// kind before anything is read.
    public static func withMappedFile<T>(_ path: FilePathBytes, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        try withOpenRegularFile(path) { fd, st in
            guard st.size > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
            guard let count = Int(exactly: st.size) else { throw FileError.tooLarge(path: path, size: st.size, limit: Int.max) }
            guard let base = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else { throw failure(path, "map") }
            defer { munmap(base, count) }
            return try body(UnsafeRawBufferPointer(start: base, count: count))
        }
    }

    /// The current folder as bytes.
    public static func currentDirectory() -> FilePathBytes {
        var size = 4096
        while true {
            var buffer = [CChar](repeating: 0, count: size)
            if getcwd(&buffer, size) != nil {
                return FilePathBytes(buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) })
            }
            guard errno == ERANGE, size < 1 << 20 else { return "/" }
            size *= 2
        }
    }

    private static func withOpenRegularFile<T>(_ path: FilePathBytes, _ body: (Int32, FileStatus) throws -> T) throws -> T {
        guard let fd = path.withCString({ open($0, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY) }) else {
            throw FileError.notFound(path: path)
        }
        guard fd >= 0 else {
            // A FIFO with no writer opens fine non-blocking; an error here is about access or existence.
            throw failure(path, "open")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw failure(path, "stat") }
        let status = FileStatus(st)
        guard status.kind == .regular else { throw FileError.notRegularFile(path: path, kind: status.kind) }
        return try body(fd, status)
    }

    static func failure(_ path: FilePathBytes, _ operation: String) -> FileError {
        let code = errno
        if code == ENOENT || code == ENOTDIR { return .notFound(path: path) }
        return .system(path: path, operation: operation, code: code, message: String(cString: strerror(code)))
    }
}
