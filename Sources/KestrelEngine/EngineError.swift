import Foundation

/// Errors from engine operations, each with what to do next.
public enum EngineError: Error, CustomStringConvertible, Sendable {
    case badTemplate(String)
    case noLabels
    case vocabularyNotFound(searched: [String])
    case preprocessMismatch(crop: String, model: Int, folder: String)

    public var description: String {
        switch self {
        case .badTemplate(let t):
            return "template \"\(t)\" must contain exactly one {} where the class name goes"
        case .noLabels:
            return "no class labels given: pass --labels \"cat,dog\" or --labels-file FILE"
        case .preprocessMismatch(let crop, let model, let folder):
            return "\(folder): the preprocessing gives \(crop) px images but the vision tower takes \(model) px; fix preprocessor_config.json / preprocess_cfg"
        case .vocabularyNotFound(let searched):
            return "the bundled CLIP vocabulary bpe_simple_vocab_16e6.txt.gz was not found (looked in: \(searched.joined(separator: ", "))); set KESTREL_VOCAB to its path or pass --vocab"
        }
    }
}
