import KestrelFiles

/// The model that made a store's vectors. The store treats it as opaque: two identities are
/// the same model when name, fingerprint and dimension all agree.
public struct ModelIdentity: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    /// Something that changes when the weights change (e.g. a hash of the checkpoint).
    public var fingerprint: String
    /// Length of every embedding.
    public var dimension: Int

    public init(name: String, fingerprint: String, dimension: Int) {
        self.name = name
        self.fingerprint = fingerprint
        self.dimension = dimension
    }

    public var description: String { "'\(name)' (fingerprint \(fingerprint), dimension \(dimension))" }

    /// Whether vectors of `other` compare with vectors of this model: same fingerprint and
    /// dimension. The name (a folder name) does not count.
    public func isSameModel(as other: ModelIdentity) -> Bool {
        fingerprint == other.fingerprint && dimension == other.dimension
    }
}

/// How vectors are kept on disk, chosen once when the store is created.
public enum VectorStorage: String, Sendable, CaseIterable {
    /// IEEE binary32, little-endian: 4 bytes per component, exact.
    case float32 = "f32"
    /// IEEE binary16, little-endian: 2 bytes per component, round-to-nearest-even
    /// (relative error at most 2^-11 for normal values).
    case float16 = "f16"

    var bytesPerComponent: Int { self == .float32 ? 4 : 2 }
}

/// One file to add: a path, what its bytes hash to, and (for new content) its embedding.
public struct NewItem: Sendable {
    /// The file's path as the caller wants it remembered, as bytes (callers should standardise it).
    public var path: FilePathBytes
    /// SHA-256 of the file bytes, 64 hex characters (see `SHA256.hexDigest(ofFileAt:)`).
    public var contentHash: String
    public var fileSize: UInt64
    /// Modification time in nanoseconds since 1970 (`stat`'s `st_mtim`), kept per path.
    public var mtimeNanoseconds: Int64
    public var width: Int
    public var height: Int
    /// Required when the content is new to the store; may be nil when `lookup(contentHash:)`
    /// already found it (the existing vector is kept either way).
    public var embedding: [Float]?
    /// A JSON text stored on the item; nil leaves any existing metadata alone.
    public var metadata: String?

    public init(
        path: FilePathBytes, contentHash: String, fileSize: UInt64, mtimeNanoseconds: Int64,
        width: Int, height: Int, embedding: [Float]?, metadata: String? = nil
    ) {
        self.path = path
        self.contentHash = contentHash
        self.fileSize = fileSize
        self.mtimeNanoseconds = mtimeNanoseconds
        self.width = width
        self.height = height
        self.embedding = embedding
        self.metadata = metadata
    }
}

/// A stored item: one distinct content (file bytes), reachable by one or more paths.
public struct ItemRecord: Equatable, Sendable {
    /// Assigned by the store, increasing, never reused.
    public var id: UInt64
    /// SHA-256 hex of the bytes.
    public var contentHash: String
    public var fileSize: UInt64
    public var width: Int
    public var height: Int
    /// The paths that hold these bytes, in the order they were attached.
    public var paths: [FilePathBytes]
    /// User metadata (a JSON text), if any.
    public var metadata: String?

    public init(
        id: UInt64, contentHash: String, fileSize: UInt64, width: Int, height: Int, paths: [FilePathBytes], metadata: String?
    ) {
        self.id = id
        self.contentHash = contentHash
        self.fileSize = fileSize
        self.width = width
        self.height = height
        self.paths = paths
        self.metadata = metadata
    }
}

/// What the store knows about one path: enough to decide on resume whether a file changed.
public struct PathRecord: Equatable, Sendable {
    public var path: FilePathBytes
    /// The item this path's bytes belong to.
    public var id: UInt64
    public var contentHash: String
    public var fileSize: UInt64
    public var mtimeNanoseconds: Int64

    public init(path: FilePathBytes, id: UInt64, contentHash: String, fileSize: UInt64, mtimeNanoseconds: Int64) {
        self.path = path
        self.id = id
        self.contentHash = contentHash
        self.fileSize = fileSize
        self.mtimeNanoseconds = mtimeNanoseconds
    }

    /// True when a file with this size and mtime can be assumed unchanged.
    public func matches(fileSize: UInt64, mtimeNanoseconds: Int64) -> Bool {
        self.fileSize == fileSize && self.mtimeNanoseconds == mtimeNanoseconds
    }
}

/// What `add` did with one `NewItem`.
public enum AddResult: Equatable, Sendable {
    /// New content: a new item with a new id (logged as `.added`).
    case added(id: UInt64)
    /// The content was already stored; this path was attached to it.
    case pathAdded(id: UInt64)
    /// The path already pointed at this content; only its mtime (and metadata) were refreshed.
    case unchanged(id: UInt64)
    /// The path pointed at other content: it was detached from `previousID` (which is removed if
    /// it has no paths left) and now points at `id` (new or existing content).
    case contentChanged(previousID: UInt64, id: UInt64)

    /// The item the path now belongs to.
    public var id: UInt64 {
        switch self {
        case .added(let id), .pathAdded(let id), .unchanged(let id), .contentChanged(_, let id): return id
        }
    }
}

/// One entry of the change log: items appear and disappear; nothing else is logged.
public struct Change: Equatable, Sendable {
    public enum Kind: UInt8, Sendable {
        case added = 1
        case removed = 2
    }
    /// Position in the log, from 1, increasing by one per change.
    public var sequence: UInt64
    public var kind: Kind
    public var id: UInt64

    public init(sequence: UInt64, kind: Kind, id: UInt64) {
        self.sequence = sequence
        self.kind = kind
        self.id = id
    }
}
