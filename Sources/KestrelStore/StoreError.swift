import CLMDB
#if canImport(Glibc)
import Glibc
#endif

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
    /// The disk (or the file system's quota) is full: the write was not committed, and what the
    /// store held before is intact.
    case diskFull(store: String)
    /// The folder cannot be written (permissions, read-only file system) and a write was asked for.
    case readOnly(store: String, reason: String)
    /// An LMDB call failed; `message` is `mdb_strerror(code)`.
    case lmdb(store: String, operation: String, code: Int32, message: String)

    public var description: String {
        switch self {
        case .notFound(let s):
            return "no Kestrel store at \(s) ---> HINT: check the path; `kestrel index add --index DIR --model MODEL IMAGES...` creates an index folder with its store"
        case .alreadyExists(let s):
            return "a store already exists at \(s) ---> HINT: add to it with `kestrel index add`, or choose another folder"
        case .notAStore(let s, let detail):
            return "\(s) is not a Kestrel store (\(detail)) ---> HINT: point --index at a folder made by `kestrel index add`"
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
                + " ---> HINT: a content hash is the SHA-256 of the file's bytes, as `sha256sum FILE` prints it"
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
            return "the store at \(s) is damaged: \(detail) ---> HINT: restore the index folder from a backup, or move it"
                + " aside and re-create it with `kestrel index add --index DIR --model MODEL IMAGES...`"
                + " (index.faiss cannot restore a store: the store is the source of truth)"
        case .closed(let s):
            return "the store at \(s) is closed"
        case .lmdb(let s, let op, let code, let message):
            return "LMDB \(op) failed on \(s): \(message) (code \(code))"
        case .diskFull(let s):
            return "the disk holding \(s) is full: nothing of this write was stored, and the store is intact"
                + " ---> HINT: free some space (`df -h` shows how much is left) and run the command again"
        case .readOnly(let s, let reason):
            return "cannot write to the store at \(s): \(reason) ---> HINT: `kestrel index stats` and `kestrel search`"
                + " work on a read-only index folder; to add or remove, run as a user who may write it"
        }
    }
}

/// An LMDB return code with the call that produced it; the store turns it into a `StoreError`.
struct LMDBFailure: Error {
    let operation: String
    let code: Int32
    /// What Kestrel found, when it is more precise than LMDB's message for `code`.
    var detail: String? = nil
    var message: String {
        if code == KMDB_FAULT {
            let signal = kmdb_last_fault_signal()
            return signal == 0 ? "LMDB stopped on an internal consistency check"
                : "reading a page faulted (\(signal == SIGBUS ? "SIGBUS" : "SIGSEGV")): a page lies outside the file or a pointer in it is wrong"
        }
        return String(cString: mdb_strerror(code))
    }

    /// Codes that mean the file's structure is not what LMDB wrote.
    var isDamage: Bool {
        [KMDB_FAULT, MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_INVALID, MDB_CURSOR_FULL, MDB_INCOMPATIBLE, MDB_BAD_TXN,
         MDB_VERSION_MISMATCH].contains(code)
    }
    var isDiskFull: Bool { code == ENOSPC || code == EDQUOT }
    var isNotWritable: Bool { code == EACCES || code == EROFS || code == EPERM }
}

@inline(__always)
func lmdbCheck(_ rc: Int32, _ operation: @autoclosure () -> String) throws {
    if rc != 0 { throw LMDBFailure(operation: operation(), code: rc) }
}
