import Foundation

/// Prompt templates for zero-shot labelling. `{}` is where the class name goes.
/// In KestrelModels so that both the engine (zero-shot labelling) and training data building
/// (captions phrased like the evaluation prompts) use the same list. The engine adds `validate`.
public enum PromptTemplates {
    /// The default ensemble: the seven templates OpenAI selected from its 80 ImageNet prompts
    /// (CLIP's "Prompt_Engineering_for_ImageNet" notebook) plus the plain "a photo of a {}.".
    public static let defaultEnsemble: [String] = [
        "a photo of a {}.",
        "itap of a {}.",
        "a bad photo of the {}.",
        "a origami {}.",
        "a photo of the large {}.",
        "a {} in a video game.",
        "art of the {}.",
        "a photo of the small {}.",
    ]

    public static func fill(_ template: String, with label: String) -> String {
        template.replacingOccurrences(of: "{}", with: label)
    }
}
