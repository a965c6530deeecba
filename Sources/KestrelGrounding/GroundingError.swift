import Foundation

/// Why grounding could not run, with what to do next.
public enum GroundingError: Error, CustomStringConvertible, Sendable {
    /// A query Kestrel cannot use (empty text, a text the tokenizer cannot take, an unusable query image).
    case badQuery(String)
    /// The model folder is not one a grounder can run.
    case unsupportedModel(folder: String, reason: String)
    /// The model produced NaN or infinite values for this input.
    case nonFinite(String)

    public var description: String {
        switch self {
        case .badQuery(let why): return "bad query: \(why)"
        case .unsupportedModel(let folder, let reason): return "\(folder): cannot ground with this model: \(reason)"
        case .nonFinite(let what): return "the model produced non-finite values for \(what)"
        }
    }
}
