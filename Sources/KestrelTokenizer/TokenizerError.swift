import Foundation

/// Everything that can go wrong while loading a CLIP tokenizer. Each case names the file.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// The file does not exist or cannot be read.
    case missingFile(path: String)
    /// The gzip stream is damaged or truncated (`detail` is zlib's message).
    case corruptGzip(path: String, detail: String)
    /// The file is not valid UTF-8.
    case notUTF8(path: String)
    /// A merges line is not two space-separated symbols, or names a symbol the vocabulary lacks.
    case malformedMerges(path: String, line: Int, reason: String)
    /// `vocab.json` is not a JSON object of string to integer.
    case malformedVocab(path: String, reason: String)
    /// A special token (`<|startoftext|>`, `<|endoftext|>`) is missing from the vocabulary.
    case missingSpecialToken(token: String, path: String)

    public var description: String {
        switch self {
        case .missingFile(let path):
            return "missing tokenizer file \(path)"
        case .corruptGzip(let path, let detail):
            return "corrupt gzip file \(path): \(detail)"
        case .notUTF8(let path):
            return "tokenizer file is not UTF-8 text: \(path)"
        case .malformedMerges(let path, let line, let reason):
            return "malformed merges file \(path), line \(line): \(reason)"
        case .malformedVocab(let path, let reason):
            return "malformed vocabulary \(path): \(reason)"
        case .missingSpecialToken(let token, let path):
            return "special token \(token) is missing from the vocabulary \(path)"
        }
    }
}
