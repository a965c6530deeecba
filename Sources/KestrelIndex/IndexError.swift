import Foundation

/// Everything that can go wrong in KestrelIndex. File problems carry a hint: the index is
/// derived data, so the answer to a bad file is always to rebuild it from the store.
public enum IndexError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A vector (or query) has a different dimension than the index.
    case dimensionMismatch(expected: Int, got: Int)
    /// `vectors.count` is not `count * dimension`.
    case shapeMismatch(expectedFloats: Int, gotFloats: Int)
    case invalidArgument(String)
    /// A factory string or alias the planner or FAISS could not turn into an index.
    case unknownFactory(String, reason: String)
    /// IVF / PQ / SQ indexes must be trained before vectors are added.
    case notTrained(factory: String)
    /// FAISS (or the C++ shim) reported an error; `code` is a `CFAISS_ERR_*` value.
    case faiss(code: Int32, message: String)
    /// A system call failed while saving or loading.
    case io(path: String, operation: String, errno: Int32)
    /// The file does not start with Kestrel's index magic number.
    case notAnIndexFile(path: String)
    case unsupportedVersion(path: String, found: UInt32, supported: UInt32)
    /// Truncated, checksum mismatch, undecodable header or FAISS payload.
    case corrupt(path: String, reason: String)

    public static let rebuildHint = "rebuild the index with `kestrel index rebuild`"

    /// What the user should do about it, if there is a standard answer.
    public var hint: String? {
        switch self {
        case .notAnIndexFile, .unsupportedVersion, .corrupt: return Self.rebuildHint
        case .unknownFactory(_, let reason) where reason.contains(IndexPlanner.supportedForms): return nil
        case .unknownFactory:
            return "--index-type takes \(IndexPlanner.supportedForms)"
        case .notTrained: return "`kestrel index rebuild` trains and fills the index from the store"
        default: return nil
        }
    }

    public var description: String {
        guard let hint else { return reason }
        return "\(reason)\n---> HINT: \(hint)"
    }

    /// What went wrong, without the hint (for callers that act on it themselves).
    public var reason: String {
        let text: String
        switch self {
        case let .dimensionMismatch(expected, got): text = "dimension mismatch: index has \(expected), got \(got)"
        case let .shapeMismatch(expected, got): text = "expected \(expected) floats, got \(got)"
        case let .invalidArgument(message): text = message
        case let .unknownFactory(factory, reason): text = "cannot build an index from '\(factory)': \(reason)"
        case let .notTrained(factory): text = "index '\(factory)' is not trained"
        case let .faiss(code, message): text = "faiss error \(code): \(message)"
        case let .io(path, operation, err) where err == ENOSPC || err == EDQUOT:
            text = "\(operation) \(path): the disk is full; the index file in place before is intact, and so is the store"
                + " (free some space and run the command again)"
        case let .io(path, operation, err): text = "\(operation) \(path): \(String(cString: strerror(err)))"
        case let .notAnIndexFile(path): text = "\(path) is not a Kestrel index file"
        case let .unsupportedVersion(path, found, supported):
            text = "\(path) has index format version \(found); this build reads version \(supported)"
        case let .corrupt(path, reason): text = "\(path) is corrupt: \(reason)"
        }
        return text
    }
}
