/// One contrastive batch: B images already preprocessed (and augmented) for the model, and B
/// tokenized captions. Sample i's image and caption are a positive pair.
public struct TrainingBatch: Sendable {
    /// [B, 3, S, S], normalised with the model's mean and std.
    public var pixels: [Float]
    /// B token-id sequences, each start token ... end token, at most the context length (no padding).
    public var tokens: [[Int]]
    /// Positive groups: samples with the same non-nil key are positives of each other (soft
    /// targets: each row's probability spread evenly over its positives). nil: hard InfoNCE
    /// (only the diagonal is positive), as CLIP and transformers' `clip_loss`.
    public var groups: [Int]?

    public var count: Int { tokens.count }

    public init(pixels: [Float], tokens: [[Int]], groups: [Int]? = nil) {
        self.pixels = pixels
        self.tokens = tokens
        self.groups = groups
    }

    /// The [B, B] row-stochastic target matrix for `groups` (nil when hard targets).
    public var targets: [Float]? {
        guard let groups else { return nil }
        let b = groups.count
        var t = [Float](repeating: 0, count: b * b)
        for i in 0..<b {
            let same = (0..<b).filter { groups[$0] == groups[i] }
            for j in same { t[i * b + j] = 1 / Float(same.count) }
        }
        return t
    }
}
