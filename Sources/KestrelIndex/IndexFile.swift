import CFaiss
import Foundation
import KestrelFiles

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What an index file says about itself, readable without loading the vectors.
public struct IndexFileInfo: Sendable, Equatable, Codable {
    public var factory: String
    public var dimension: Int
    public var count: Int
    /// Store log sequence the index was up to date with when saved.
    public var coveredSequence: UInt64
    public var searchParameters: SearchParameters
    public var efConstruction: Int?
    public var tuning: TuningResult?
    /// The identity of the data the index was built from (a Kestrel store's random id), opaque
    /// to this module. nil when the caller set none.
    public var storeID: String?
    /// A digest of the data's history up to `coveredSequence` (a Kestrel store's log chain),
    /// opaque to this module; nil when the caller set none. New in format version 3.
    public var storeLogChain: String?
}

/// On-disk layout (little-endian), one file:
///
///     0   8  magic "KSTRLIDX"
///     8   4  format version (UInt32) = 3 (1 had no storeID, 2 no storeLogChain; such files
///              are refused as `unsupportedVersion`, and a catalog rebuilds them from its store)
///     12  4  header length H (UInt32)
///     16  H  header: IndexFileInfo as JSON
///     ..  8  checksum of the header bytes (UInt64)
///     ..  8  payload length P (UInt64)
///     ..  8  checksum of the payload (UInt64)
///     ..  P  payload: cfaiss blob (FAISS index + slot -> id table)
enum IndexFile {
    static let magic: [UInt8] = Array("KSTRLIDX".utf8)
    static let version: UInt32 = 3

    static func encode(info: IndexFileInfo, payload: UnsafeRawBufferPointer) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let header = try [UInt8](encoder.encode(info))
        var head = magic
        append(&head, version)
        append(&head, UInt32(header.count))
        head += header
        append(&head, header.withUnsafeBytes { cfaiss_checksum($0.baseAddress, $0.count) })
        append(&head, UInt64(payload.count))
        append(&head, cfaiss_checksum(payload.baseAddress, payload.count))
        return head
    }

    /// Parses and verifies the fixed part; returns the header and the payload's byte range.
    static func decode(_ bytes: UnsafeRawBufferPointer, path: String, verifyPayload: Bool)
        throws -> (info: IndexFileInfo, payload: Range<Int>)
    {
        guard bytes.count >= 16, Array(bytes[0..<8]) == magic else { throw IndexError.notAnIndexFile(path: path) }
        let found: UInt32 = read(bytes, at: 8)
        guard found == version else { throw IndexError.unsupportedVersion(path: path, found: found, supported: version) }
        let headerLength = Int(read(bytes, at: 12) as UInt32)
        let headerEnd = 16 + headerLength
        guard headerLength <= bytes.count, headerEnd + 24 <= bytes.count else { throw IndexError.corrupt(path: path, reason: "truncated header") }
        let header = UnsafeRawBufferPointer(rebasing: bytes[16..<headerEnd])
        guard cfaiss_checksum(header.baseAddress, header.count) == read(bytes, at: headerEnd) as UInt64 else {
            throw IndexError.corrupt(path: path, reason: "header checksum mismatch")
        }
        let info: IndexFileInfo
        do {
            info = try JSONDecoder().decode(IndexFileInfo.self, from: Data(header))
        } catch {
            throw IndexError.corrupt(path: path, reason: "undecodable header (\(error))")
        }
        let payloadLength = read(bytes, at: headerEnd + 8) as UInt64
        let start = headerEnd + 24
        guard payloadLength == UInt64(bytes.count - start) else {
            throw IndexError.corrupt(
                path: path, reason: "payload is \(bytes.count - start) bytes, header says \(payloadLength) (truncated?)")
        }
        let payload = start..<bytes.count
        if verifyPayload {
            let region = UnsafeRawBufferPointer(rebasing: bytes[payload])
            guard cfaiss_checksum(region.baseAddress, region.count) == read(bytes, at: headerEnd + 16) as UInt64 else {
                throw IndexError.corrupt(path: path, reason: "payload checksum mismatch")
            }
        }
        return (info, payload)
    }

    static func append<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    static func read<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> T {
        var value = T.zero
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + MemoryLayout<T>.size)])) }
        return T(littleEndian: value)
    }
}

extension VectorIndex {
    /// Everything persisted besides the vectors.
    public var fileInfo: IndexFileInfo {
        IndexFileInfo(
            factory: factory, dimension: dimension, count: count, coveredSequence: coveredSequence,
            searchParameters: searchParameters, efConstruction: efConstruction, tuning: tuning, storeID: storeID,
            storeLogChain: storeLogChain)
    }

    /// Saves atomically: writes `.<name>.tmp` in the same directory, fsyncs it, renames it over
    /// `url`, then fsyncs the directory. On failure the previous file at `url` is untouched.
    public func save(to url: URL) throws { try save(to: FilePathBytes(url.path)) }

    /// `save(to:)` for a file named by bytes (the name need not be UTF-8).
    public func save(to file: FilePathBytes) throws {
        let info = fileInfo
        var data: UnsafeMutablePointer<UInt8>?
        var size = 0
        try locked { try check(cfaiss_serialize(handle, &data, &size)) }
        defer { cfaiss_buffer_free(data) }
        let payload = UnsafeRawBufferPointer(start: data, count: size)
        let head = try IndexFile.encode(info: info, payload: payload)

        let directory = file.parent
        let tempPath = directory.appending(Array(".".utf8) + file.lastComponent + Array(".tmp".utf8))
        let temp = tempPath.description
        try? FileSystem.removeFile(tempPath)  // a leftover from a crashed save
        let fd = tempPath.withCString { open($0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) } ?? -1
        guard fd >= 0 else { throw IndexError.io(path: temp, operation: "create", errno: errno) }
        do {
            try head.withUnsafeBytes { try writeAll(fd, $0, path: temp) }
            try writeAll(fd, payload, path: temp)
            guard fsync(fd) == 0 else { throw IndexError.io(path: temp, operation: "fsync", errno: errno) }
            guard close(fd) == 0 else {
                throw IndexError.io(path: temp, operation: "close", errno: errno)
            }
        } catch {
            close(fd)
            try? FileSystem.removeFile(tempPath)
            throw error
        }
        let renamed = tempPath.withCString { t in file.withCString { rename(t, $0) } } ?? nil
        guard renamed == 0 else {
            let err = errno
            try? FileSystem.removeFile(tempPath)
            throw IndexError.io(path: file.description, operation: "rename into place", errno: err)
        }
        let dirfd = directory.withCString { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) } ?? -1
        guard dirfd >= 0 else { throw IndexError.io(path: directory.description, operation: "open directory", errno: errno) }
        defer { close(dirfd) }
        guard fsync(dirfd) == 0 else { throw IndexError.io(path: directory.description, operation: "fsync directory", errno: errno) }
    }

    /// Loads an index saved by `save(to:)`. Any mismatch or damage is an `IndexError` whose
    /// hint says to rebuild the index.
    public static func load(from url: URL) throws -> VectorIndex { try load(from: FilePathBytes(url.path)) }

    /// `load(from:)` for a file named by bytes.
    public static func load(from file: FilePathBytes) throws -> VectorIndex {
        let path = file.description
        return try withFile(file) { raw -> VectorIndex in
            let (info, range) = try IndexFile.decode(raw, path: path, verifyPayload: true)
            let payload = UnsafeRawBufferPointer(rebasing: raw[range])
            var handle: OpaquePointer?
            let status = cfaiss_deserialize(payload.baseAddress?.assumingMemoryBound(to: UInt8.self), payload.count, &handle)
            guard status == CFAISS_OK, let handle else {
                throw IndexError.corrupt(path: path, reason: "FAISS payload: \(String(cString: cfaiss_last_error()))")
            }
            let index = VectorIndex(
                handle: handle, factory: info.factory, efConstruction: info.efConstruction,
                parameters: info.searchParameters)
            guard index.dimension == info.dimension, index.count == info.count else {
                throw IndexError.corrupt(
                    path: path,
                    reason: "header says \(info.count) x \(info.dimension), payload holds \(index.count) x \(index.dimension)")
            }
            index.restore(sequence: info.coveredSequence, tuning: info.tuning)
            index.storeID = info.storeID
            index.storeLogChain = info.storeLogChain
            return index
        }
    }

    /// Reads only the header of an index file (cheap: for staleness checks against the store).
    public static func inspect(at url: URL) throws -> IndexFileInfo { try inspect(at: FilePathBytes(url.path)) }

    /// `inspect(at:)` for a file named by bytes.
    public static func inspect(at file: FilePathBytes) throws -> IndexFileInfo {
        try withFile(file) { try IndexFile.decode($0, path: file.description, verifyPayload: false).info }
    }
}

private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
    var done = 0
    while done < bytes.count {
        let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw IndexError.io(path: path, operation: "write", errno: n < 0 ? errno : EIO) }
        done += n
    }
}

/// The file's bytes, mapped, for `body`; file errors as `IndexError.io` naming the file.
private func withFile<T>(_ file: FilePathBytes, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
    do {
        return try FileSystem.withMappedFile(file, body)
    } catch let e as FileError {
        switch e {
        case .notFound: throw IndexError.io(path: file.description, operation: "open", errno: ENOENT)
        case .notRegularFile(_, let kind): throw IndexError.corrupt(path: file.description, reason: "it is \(kind.phrase), not a regular file")
        case .notDirectory: throw IndexError.io(path: file.description, operation: "open", errno: ENOTDIR)
        case .tooLarge: throw IndexError.io(path: file.description, operation: "read", errno: EFBIG)
        case .system(_, _, let code, _): throw IndexError.io(path: file.description, operation: "read", errno: code)
        }
    }
}
