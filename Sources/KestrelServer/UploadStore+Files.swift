import Foundation
import KestrelEngine

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

    /// Writes `bytes` as `file(contentHash:kind:)` durably (`FileSystem.writeFileDurably`:
    /// temporary file, fsync, rename, folder fsync) and returns its path. Creates the folder
    /// (fsyncing its parent) the first time. Throws `FileError`.
    public func write(_ bytes: [UInt8], contentHash: String, kind: Kind) throws -> FilePathBytes {
        try ensureFolder()
        let target = file(contentHash: contentHash, kind: kind)
        try FileSystem.writeFileDurably(bytes, to: target)
        return target
    }

    /// Deletes `file` (one `holds` accepts; others are left alone) and fsyncs the folder. A file
    /// already gone is fine. Throws `FileError`.
    public func remove(_ file: FilePathBytes) throws {
        guard holds(file) else { return }
        try FileSystem.removeFile(file)
        try FileSystem.syncDirectory(path)
    }

    private func ensureFolder() throws {
        if let kind = try? FileSystem.status(path).kind {
            if kind == .directory { return }
            throw FileError.notDirectory(path: path, kind: kind)
        }
        try FileSystem.makeDirectories(path)
        try FileSystem.syncDirectory(path.parent)
    }
}
