import KestrelFiles

/// Byte encodings of everything the store writes. docs/store-format.md is the same thing in
/// prose; change both together. Ids and sequence numbers are big-endian u64 wherever they
/// appear (keys sort in id order, and an id read from a value is directly a key); every other
/// number is little-endian.
enum Layout {
    static let magic: [UInt8] = Array("KESTRELS".utf8)
    /// Version 2 adds the chain digest to log entries; version 1 stores (9-byte log entries)
    /// are read as they are and become version 2 at their first writable open.
    static let schemaVersion: UInt32 = 2
    static let readableSchemaVersions: ClosedRange<UInt32> = 1...2
    static let itemRecordVersion: UInt8 = 1
    /// No path is longer than LMDB's largest key (511 bytes in the default build; a build with a
    /// larger limit may store up to this many).
    static let maxPathBytes: UInt32 = 4096

    /// Named sub-databases.
    static let storeDB = "store", itemsDB = "items", vectorsDB = "vectors", pathsDB = "paths",
        hashesDB = "hashes", logDB = "log", metaDB = "meta"
    static let allDatabases = [storeDB, itemsDB, vectorsDB, pathsDB, hashesDB, logDB, metaDB]

    /// Keys in the `store` database.
    enum Key {
        static let magic = "magic", schemaVersion = "schema_version", modelName = "model_name",
            modelFingerprint = "model_fingerprint", dimension = "dimension", vectorStorage = "vector_storage",
            nextID = "next_id", nextSequence = "next_seq", storeID = "store_id"
    }
}

// MARK: - Numbers

@inline(__always) func bigEndian(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) } }
@inline(__always) func littleEndian(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
@inline(__always) func littleEndian(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }

/// Reads numbers and strings from a byte buffer; any overrun is a `nil`, never a crash.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0
    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var atEnd: Bool { offset == bytes.count }

    mutating func take(_ n: Int) -> UnsafeRawBufferPointer? {
        guard n >= 0, bytes.count - offset >= n else { return nil }
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n])
    }
    mutating func u8() -> UInt8? { take(1).map { $0[0] } }
    mutating func u32LE() -> UInt32? { take(4).map { b in (0..<4).reduce(0) { $0 | UInt32(b[$1]) << (8 * UInt32($1)) } } }
    mutating func u64LE() -> UInt64? { take(8).map { b in (0..<8).reduce(0) { $0 | UInt64(b[$1]) << (8 * UInt64($1)) } } }
    mutating func u64BE() -> UInt64? { take(8).map { b in (0..<8).reduce(0) { $0 << 8 | UInt64(b[$1]) } } }
    mutating func string(_ n: Int) -> String? {
        take(n).flatMap { String(validating: $0, as: UTF8.self) }
    }
}

/// Ids and sequence numbers are 1...Int64.max (FAISS and JSON take them as signed 64-bit): a
/// value outside that range is damage, never an id.
let validIDs: ClosedRange<UInt64> = 1...UInt64(Int64.max)

/// An id or sequence number (exactly 8 bytes, in `validIDs`), or nil.
func readU64BE(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
    var r = ByteReader(bytes); let v = r.u64BE(); return r.atEnd ? v.flatMap { validIDs.contains($0) ? $0 : nil } : nil
}
func readU64BE(_ bytes: [UInt8]) -> UInt64? { bytes.withUnsafeBytes { readU64BE($0) } }

// MARK: - Content hashes

/// 64 hex characters -> 32 bytes; nil if malformed. Upper or lower case accepted.
func digestBytes(hex: String) -> [UInt8]? {
    let chars = Array(hex.utf8)
    guard chars.count == 64 else { return nil }
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
    var out = [UInt8](); out.reserveCapacity(32)
    for i in stride(from: 0, to: 64, by: 2) {
        guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
    }
    return out
}

// MARK: - Records

/// The value of `items[id]`: the content's facts, its paths, its metadata.
///
///     u8 record version (1) | 32 SHA-256 | u64 size | u32 width | u32 height
///     | u32 path count, then per path: u32 byte length + the path's bytes (any bytes;
///       UTF-8 when the file system's name was)
///     | u8 has metadata (0/1), then if 1: u32 byte length + UTF-8 JSON
struct StoredItem {
    var digest: [UInt8]
    var fileSize: UInt64
    var width: UInt32
    var height: UInt32
    var paths: [FilePathBytes]
    var metadata: String?

    func encoded() -> [UInt8] {
        var out: [UInt8] = [Layout.itemRecordVersion]
        out += digest
        out += littleEndian(fileSize)
        out += littleEndian(width)
        out += littleEndian(height)
        out += littleEndian(UInt32(paths.count))
        for p in paths { out += littleEndian(UInt32(p.bytes.count)); out += p.bytes }
        if let m = metadata {
            out.append(1); out += littleEndian(UInt32(m.utf8.count)); out += m.utf8
        } else {
            out.append(0)
        }
        return out
    }

    init(digest: [UInt8], fileSize: UInt64, width: UInt32, height: UInt32, paths: [FilePathBytes], metadata: String?) {
        self.digest = digest; self.fileSize = fileSize; self.width = width; self.height = height
        self.paths = paths; self.metadata = metadata
    }

    /// nil when the bytes are not a version-1 item record: among others, an item without paths
    /// (the store deletes an item with its last path), an empty path or one longer than a key
    /// (every path is also a `paths` key), a path listed twice.
    init?(decoding bytes: UnsafeRawBufferPointer) {
        var r = ByteReader(bytes)
        guard r.u8() == Layout.itemRecordVersion, let d = r.take(32), let size = r.u64LE(), size <= UInt64(Int64.max),
            let w = r.u32LE(), let h = r.u32LE(), let n = r.u32LE(), n >= 1,
            Int(n) <= (bytes.count - r.offset) / 5  // each path takes its 4-byte length and at least 1 byte
        else { return nil }
        var paths: [FilePathBytes] = []
        for _ in 0..<n {
            guard let len = r.u32LE(), len >= 1, len <= Layout.maxPathBytes, let p = r.take(Int(len)) else { return nil }
            paths.append(FilePathBytes(bytes: p))
        }
        guard Set(paths).count == paths.count else { return nil }
        var metadata: String?
        switch r.u8() {
        case 0: metadata = nil
        case 1:
            guard let len = r.u32LE(), let m = r.string(Int(len)) else { return nil }
            metadata = m
        default: return nil
        }
        guard r.atEnd else { return nil }
        self.init(digest: Array(d), fileSize: size, width: w, height: h, paths: paths, metadata: metadata)
    }

    init?(decoding bytes: [UInt8]) {
        guard let v = bytes.withUnsafeBytes({ StoredItem(decoding: $0) }) else { return nil }
        self = v
    }

    func record(id: UInt64) -> ItemRecord {
        ItemRecord(
            id: id, contentHash: SHA256.hex(digest), fileSize: fileSize, width: Int(width), height: Int(height),
            paths: paths, metadata: metadata)
    }
}

/// The value of `paths[path]`: `u64 BE id | i64 LE mtime in ns` (16 bytes).
struct StoredPath {
    var id: UInt64
    var mtimeNanoseconds: Int64

    func encoded() -> [UInt8] { bigEndian(id) + littleEndian(UInt64(bitPattern: mtimeNanoseconds)) }

    init(id: UInt64, mtimeNanoseconds: Int64) { self.id = id; self.mtimeNanoseconds = mtimeNanoseconds }

    init?(decoding bytes: [UInt8]) {
        guard let v: StoredPath = bytes.withUnsafeBytes({ b in
            var r = ByteReader(b)
            guard let id = r.u64BE(), validIDs.contains(id), let t = r.u64LE(), r.atEnd else { return nil }
            return StoredPath(id: id, mtimeNanoseconds: Int64(bitPattern: t))
        }) else { return nil }
        self = v
    }
}

/// The value of `log[seq]`: `u8 kind (1 added, 2 removed) | u64 BE id | 32-byte chain`
/// (41 bytes); entries written before schema version 2 are the first 9 bytes alone.
/// chain = SHA-256(previous entry's chain | kind | id BE | SHA-256 of the item's content), the
/// previous chain of the first entry (or of one after a 9-byte entry) being 32 zero bytes:
/// a digest of the whole log up to here, so two copies of a store that took different changes
/// have different chains at the same sequence.
func encodeLogEntry(_ kind: Change.Kind, _ id: UInt64, chain: [UInt8]) -> [UInt8] { [kind.rawValue] + bigEndian(id) + chain }

func nextLogChain(previous: [UInt8], _ kind: Change.Kind, _ id: UInt64, content digest: [UInt8]) -> [UInt8] {
    var h = SHA256()
    h.update(previous)
    h.update([kind.rawValue] + bigEndian(id))
    h.update(digest)
    return h.finalize()
}

/// The chain of a 41-byte entry; nil for a 9-byte one.
let logChainBytes = 32
let noLogChain = [UInt8](repeating: 0, count: logChainBytes)

func decodeLogEntry(sequence: UInt64, _ bytes: UnsafeRawBufferPointer) -> (change: Change, chain: [UInt8]?)? {
    var r = ByteReader(bytes)
    guard let k = r.u8(), let kind = Change.Kind(rawValue: k), let id = r.u64BE(), validIDs.contains(id) else { return nil }
    var chain: [UInt8]?
    if !r.atEnd {
        guard let c = r.take(logChainBytes), r.atEnd else { return nil }
        chain = Array(c)
    }
    return (Change(sequence: sequence, kind: kind, id: id), chain)
}
