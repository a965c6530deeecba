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

    /// Token ids of the phrases the batch's regions show ("a red circle"), each start ... end token.
    public var regionPhrases: [[Int]]
    /// Objects with exact boxes (rendered scenes), for the region-phrase loss
    /// (`CLIPGraph.regionLossWeight`); empty when the recipe has none.
    public var regions: [RegionBox]

    public var count: Int { tokens.count }

    public init(pixels: [Float], tokens: [[Int]], groups: [Int]? = nil, regionPhrases: [[Int]] = [], regions: [RegionBox] = []) {
        self.pixels = pixels
        self.tokens = tokens
        self.groups = groups
        self.regionPhrases = regionPhrases
        self.regions = regions
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

/// One object in one training image: its box in the model input's pixels (after the crop, resize
/// and flip the image was given), [x0, y0, x1, y1], and the index of its phrase in
/// `TrainingBatch.regionPhrases`.
public struct RegionBox: Sendable, Equatable {
    public var image: Int
    public var phrase: Int
    public var box: [Double]
    public init(image: Int, phrase: Int, box: [Double]) { self.image = image; self.phrase = phrase; self.box = box }

    /// The patches of a `grid` x `grid` patch grid of `patchSize`-pixel patches whose centre lies
    /// inside the box (row-major indices); when none does (a box smaller than a patch), the patch
    /// under the box's centre. Empty when the box lies outside the input.
    public func patches(grid: Int, patchSize: Int) -> [Int] {
        let p = Double(patchSize), size = Double(grid * patchSize)
        let (x0, y0, x1, y1) = (box[0], box[1], box[2], box[3])
        guard x1 > 0, y1 > 0, x0 < size, y0 < size, x1 > x0, y1 > y0 else { return [] }
        var out = [Int]()
        for py in 0..<grid {
            let cy = (Double(py) + 0.5) * p
            guard cy >= y0 && cy <= y1 else { continue }
            for px in 0..<grid {
                let cx = (Double(px) + 0.5) * p
                if cx >= x0 && cx <= x1 { out.append(py * grid + px) }
            }
        }
        if out.isEmpty {
            let cx = min(max((x0 + x1) / 2, 0), size - 1), cy = min(max((y0 + y1) / 2, 0), size - 1)
            out = [Int(cy / p) * grid + Int(cx / p)]
        }
        return out
    }
}
