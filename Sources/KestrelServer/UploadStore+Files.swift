import Foundation
import KestrelEngine
#if canImport(Glibc)
import Glibc
#endif

/// The folder of uploaded images, `DIR/uploads`. Every file in it is named by its content only:
/// `<SHA-256 of the bytes, 64 hex>.<jpg|png>` (the extension from the magic bytes), so no value
/// from a request ever becomes part of a path, and the same bytes always land in the same file.
///
/// Writes are durable before they return: the bytes go to a temporary file in the folder, which
/// is fsynced, renamed over the final name, and then the folder itself is fsynced (so the new
/// name survives a power cut). A removal is fsynced the same way.
public struct UploadFolder: Sendable {
    /// `DIR/uploads`.
    public let path: FilePathBytes

    public init(indexFolder: FilePathBytes) {
        path = indexFolder.appending(Array("uploads".utf8))
    }

    /// The kinds of image an upload may be, by their first bytes.
    public enum Kind: String, Sendable {
        case jpeg = "jpg"
        case png = "png"

        /// The kind of `bytes` by magic number (JPEG: FF D8 FF; PNG: the 8-byte signature), or nil.
        public init?(magic bytes: [UInt8]) {
            if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
                self = .jpeg
            } else if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
                self = .png
            } else {
                return nil
            }
        }
    }

    /// Where the bytes hashing to `contentHash` (64 lowercase hex characters) are kept.
    public func file(contentHash: String, kind: Kind) -> FilePathBytes {
        path.appending(Array("\(contentHash).\(kind.rawValue)".utf8))
    }

    /// Whether `file` is directly inside this folder (an upload this service wrote), compared
    /// bytewise; paths of ingested folders never are.
    public func holds(_ file: FilePathBytes) -> Bool {
        file.parent.bytes == path.bytes && file.lastComponent.first != 0x2E
    }

    /// Writes `bytes` as `file(contentHash:kind:)` durably (see the type) and returns its path.
    /// Creates the folder (fsyncing its parent) the first time. Throws `FileError`.
    public func write(_ bytes: [UInt8], contentHash: String, kind: Kind) throws -> FilePathBytes {
        try ensureFolder()
        let target = file(contentHash: contentHash, kind: kind)
        let temp = path.appending(Array(".\(contentHash).\(kind.rawValue).tmp".utf8))
        try? FileSystem.removeFile(temp)  // a leftover of a crash mid-write
        guard let fd = temp.withCString({ open($0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }), fd >= 0 else {
            throw UploadFolder.failure(temp, "create")
        }
        do {
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw UploadFolder.failure(temp, "write") }
                done += n
            }
            guard fsync(fd) == 0 else { throw UploadFolder.failure(temp, "fsync") }
            guard close(fd) == 0 else { throw UploadFolder.failure(temp, "close") }
        } catch {
            close(fd)
            try? FileSystem.removeFile(temp)
            throw error
        }
        do { try FileSystem.rename(temp, to: target) } catch { try? FileSystem.removeFile(temp); throw error }
        try UploadFolder.syncFolder(path)
        return target
    }

    /// Deletes `file` (one `holds` accepts; others are left alone) and fsyncs the folder. A file
    /// already gone is fine.
    public func remove(_ file: FilePathBytes) throws {
        guard holds(file) else { return }
        try FileSystem.removeFile(file)
        try UploadFolder.syncFolder(path)
    }

    private func ensureFolder() throws {
        if let kind = try? FileSystem.status(path).kind {
            if kind == .directory { return }
            throw FileError.notDirectory(path: path, kind: kind)
        }
        try FileSystem.makeDirectories(path)
        try UploadFolder.syncFolder(path.parent)
    }

    /// fsync(2) of a folder: its entries (a rename, an unlink, a new file) reach the disk.
    static func syncFolder(_ folder: FilePathBytes) throws {
        guard let fd = folder.withCString({ open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }), fd >= 0 else {
            throw failure(folder, "open the folder")
        }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw failure(folder, "fsync the folder") }
    }

    static func failure(_ path: FilePathBytes, _ operation: String) -> UploadFileError {
        UploadFileError(path: path.description, operation: operation, reason: String(cString: strerror(errno)), code: errno)
    }
}

/// A file operation on the uploads folder that failed (a full disk, permissions...).
public struct UploadFileError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var operation: String
    public var reason: String
    /// errno.
    public var code: Int32
    public var description: String { "\(path): cannot \(operation): \(reason)" }
}
