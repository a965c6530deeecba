import CLMDB

/// Everything the store can throw. Each message names the store and says what to do.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    case notFound(store: String)
    case alreadyExists(store: String)
    case notAStore(store: String, detail: String)
    case unsupportedSchema(store: String, found: UInt32, supported: UInt32)
    case invalidIdentity(store: String, reason: String)
    case identityMismatch(store: String, stored: ModelIdentity, requested: ModelIdentity)
    case dimensionMismatch(store: String, expected: Int, actual: Int, path: String)
    case invalidContentHash(store: String, path: String, hash: String)
    case invalidPath(store: String, path: String, reason: String)
    case invalidItem(store: String, path: String, reason: String)
    case missingEmbedding(store: String, path: String)
    case invalidMetadata(store: String, id: UInt64, reason: String)
    case noSuchItem(store: String, id: UInt64)
    case corrupt(store: String, detail: String)
    case closed(store: String)
    /// An LMDB call failed; `message` is `mdb_strerror(code)`.
    case lmdb(store: String, operation: String, code: Int32, message: String)

    public var description: String {
        switch self {
        case .notFound(let s):
            return "no Kestrel store at \(s) ---> HINT: check the path, or create one with Store.create(at:identity:)"
        case .alreadyExists(let s):
            return "a store already exists at \(s) ---> HINT: open it with Store.open(at:), or choose another folder"
        case .notAStore(let s, let detail):
            return "\(s) is not a Kestrel store (\(detail)) ---> HINT: point at the folder made by Store.create"
        case .unsupportedSchema(let s, let found, let supported):
            return "the store at \(s) has schema version \(found), this build reads version \(supported)"
                + (found > supported
                    ? " ---> HINT: use a newer Kestrel, or re-ingest into a new store with this one"
                    : " ---> HINT: re-ingest the images into a new store (the store is the only source of vectors)")
        case .invalidIdentity(let s, let reason):
            return "invalid model identity for store \(s): \(reason)"
        case .identityMismatch(let s, let stored, let requested):
            return "the store at \(s) holds vectors from model \(stored), but model \(requested) was asked to use it;"
                + " vectors from different models cannot be mixed ---> HINT: load model '\(stored.name)' to use this"
                + " store, or create a new store for '\(requested.name)' and re-ingest"
        case .dimensionMismatch(let s, let expected, let actual, let path):
            return "embedding for \(path) has \(actual) values, the store at \(s) holds \(expected)-dimensional vectors"
                + " ---> HINT: the vectors come from a different model than the store's"
        case .invalidContentHash(let s, let path, let hash):
            return "content hash '\(hash)' of \(path) is not 64 hex characters (store \(s))"
                + " ---> HINT: use SHA256.hexDigest(ofFileAt:)"
        case .invalidPath(let s, let path, let reason):
            return "cannot use '\(path)' as a path or key in \(s): \(reason)"
        case .invalidItem(let s, let path, let reason):
            return "cannot add \(path) to \(s): \(reason)"
        case .missingEmbedding(let s, let path):
            return "\(path) has content that is not in the store at \(s) yet, and no embedding was given"
                + " ---> HINT: encode the image before adding it"
        case .invalidMetadata(let s, let id, let reason):
            return "metadata for item \(id) in \(s) is not valid JSON: \(reason)"
        case .noSuchItem(let s, let id):
            return "no item \(id) in the store at \(s)"
        case .corrupt(let s, let detail):
            return "the store at \(s) is damaged: \(detail) ---> HINT: re-ingest into a new store"
        case .closed(let s):
            return "the store at \(s) is closed"
        case .lmdb(let s, let op, let code, let message):
            return "LMDB \(op) failed on \(s): \(message) (code \(code))"
        }
    }
}

/// An LMDB return code with the call that produced it; the store turns it into `StoreError.lmdb`.
struct LMDBFailure: Error {
    let operation: String
    let code: Int32
    var message: String { String(cString: mdb_strerror(code)) }
}

@inline(__always)
func lmdbCheck(_ rc: Int32, _ operation: @autoclosure () -> String) throws {
    if rc != 0 { throw LMDBFailure(operation: operation(), code: rc) }
}
