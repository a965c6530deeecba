import Foundation
import KestrelModels

/// Generic text prompts whose embeddings tune approximate indexes for text search.
///
/// A multimodal model's text embeddings land apart from the image vectors they are compared
/// with, where graph walks and inverted lists are least reliable: an HNSW index tuned on
/// queries near the stored vectors reached recall@10 0.97 on them and 0.90 on real text
/// queries. The catalog knows nothing of models, so the engine embeds these prompts and hands
/// the catalog the vectors (`Catalog.setTuningQueries`).
public enum TuningPrompts {
    /// Everyday subjects, one per prompt.
    static let subjects = [
        "person", "man", "woman", "baby", "cat", "puppy", "bird", "fish", "tree", "plant", "car", "bus",
        "train", "truck", "road", "river", "lake", "garden", "park", "church", "castle", "table", "chair", "bed",
        "window", "door", "lamp", "phone", "camera", "bottle", "glass", "plate", "sandwich", "apple", "banana", "salad",
        "shirt", "hat", "bag", "umbrella", "ball", "toy", "painting", "statue", "cloud", "sky", "sea", "snow",
    ]

    /// 48 prompts: each subject in one of the zero-shot templates, in turn.
    public static var prompts: [String] {
        let templates = PromptTemplates.defaultEnsemble
        return subjects.enumerated().map { i, subject in PromptTemplates.fill(templates[i % templates.count], with: subject) }
    }
}

extension Embedder {
    /// The `TuningPrompts` embedded by this model's text tower: row-major, L2-normalised.
    public func tuningQueries() throws -> [Float] {
        try embedTexts(TuningPrompts.prompts).data
    }
}
