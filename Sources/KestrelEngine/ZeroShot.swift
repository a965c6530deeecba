import Foundation
import KestrelModels

/// Zero-shot prompt templates (`PromptTemplates`, with the default ensemble, lives in KestrelModels
/// so that training data uses the same phrasings); the engine checks users' templates.
extension PromptTemplates {
    /// Checks a user's template holds exactly one `{}`.
    public static func validate(_ template: String) throws {
        let parts = template.components(separatedBy: "{}").count - 1
        guard parts == 1 else { throw EngineError.badTemplate(template) }
    }
}

/// One image's zero-shot result.
public struct LabelResult: Sendable {
    /// Probabilities per class (softmax of exp(logit_scale) * cosine), in the order of the labels.
    public var probabilities: [Float]
    /// Cosine similarity per class.
    public var cosines: [Float]
    /// Index of the best class.
    public var best: Int

    public init(probabilities: [Float], cosines: [Float], best: Int) {
        self.probabilities = probabilities; self.cosines = cosines; self.best = best
    }

    /// The indices of the `top` most probable classes, most probable first; a `top` above the
    /// class count gives every class. Throws `EngineError.badArgument` for top < 1.
    public func ranking(top: Int) throws -> [Int] {
        guard top >= 1 else { throw EngineError.badArgument("top", "must be at least 1, got \(top)") }
        let order = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }
        return Array(order.prefix(top))
    }
}

/// Zero-shot classification: class embeddings are the normalised mean of the normalised
/// embeddings of each class's prompts; an image's logits are exp(logit_scale) * cosine.
public struct ZeroShotClassifier: Sendable {
    public let labels: [String]
    public let templates: [String]
    /// [C, E], rows L2-normalised.
    public let classEmbeddings: Tensor
    public let logitScale: Float

    public init(embedder: Embedder, labels: [String], templates: [String] = PromptTemplates.defaultEnsemble) throws {
        guard !labels.isEmpty else { throw EngineError.noLabels }
        for t in templates { try PromptTemplates.validate(t) }
        // Classes the tokenizer reads alike ("A" and "a": the text is cleaned and lower-cased)
        // would get one embedding and split every probability between them.
        var byTokens: [[Int]: [String]] = [:]
        for label in labels { byTokens[embedder.tokenizer.encode(label), default: []].append(label) }
        let alike = labels.compactMap { byTokens[embedder.tokenizer.encode($0)] }.filter { $0.count > 1 }
        if let first = alike.first {
            throw EngineError.badArgument("labels", "the class names \(first.joined(separator: ", ")) read the same to the model (its tokenizer cleans and lower-cases text), so they would share one embedding; give each class once")
        }
        self.labels = labels
        self.templates = templates
        let prompts = labels.flatMap { label in templates.map { PromptTemplates.fill($0, with: label) } }
        let perPrompt = try embedder.embedTexts(prompts, normalize: true)   // [C*T, E]
        let e = perPrompt.lastDim, t = templates.count
        var classes = Tensor(shape: [labels.count, e])                     // [C, E]
        for c in 0..<labels.count {
            for j in 0..<t {
                let row = (c * t + j) * e
                for k in 0..<e { classes.data[c * e + k] += perPrompt.data[row + k] }
            }
        }
        l2Normalize(&classes)
        classEmbeddings = classes
        logitScale = embedder.model.logitScale
    }

    /// image: a normalised embedding [E].
    public func classify(_ image: [Float]) -> LabelResult {
        let e = classEmbeddings.lastDim
        precondition(image.count == e, "image embedding has \(image.count) values, classes have \(e)")
        var cosines = [Float](repeating: 0, count: labels.count)
        for c in 0..<labels.count {
            var dot: Float = 0
            for k in 0..<e { dot += classEmbeddings.data[c * e + k] * image[k] }
            cosines[c] = dot
        }
        let scale = exp(logitScale)
        var logits = Tensor(shape: [1, labels.count], data: cosines.map { $0 * scale })
        softmax(&logits)
        let best = cosines.indices.max { cosines[$0] < cosines[$1] } ?? 0
        return LabelResult(probabilities: logits.data, cosines: cosines, best: best)
    }
}
