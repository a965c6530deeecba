import Foundation
import KestrelEngine

/// Opens a model folder as a `Grounder`: a folder whose config.json says `"model_type": "owlvit"`
/// or `"owlv2"` runs `OWLDetector`; any CLIP folder (Hugging Face or open_clip layout, the
/// default model included) runs `DenseCLIPGrounder`.
public enum GrounderLoader {
    /// The `model_type` of `folder/config.json`, nil when there is none (open_clip layout) or it is unreadable.
    public static func modelType(_ folder: URL) -> String? {
        guard let data = try? Data(contentsOf: folder.appendingPathComponent("config.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return object["model_type"] as? String
    }

    /// Throws `ModelError`/`GroundingError` naming the file or field that is wrong.
    public static func load(_ folder: URL, precision: Precision = .fp32) throws -> any Grounder {
        switch modelType(folder) {
        case "owlvit", "owlv2": return try OWLDetector(directory: folder, precision: precision)
        default: return try DenseCLIPGrounder(embedder: Embedder(modelDirectory: folder, precision: precision))
        }
    }
}
