import Foundation

// The region-phrase loss that teaches a CLIP's patch features where things are (issue 10,
// point 6: "training it further with region-caption pairs from the rendered scenes' boxes").
// Over normalised patch features p [B·P, E] and normalised phrase embeddings u [Q, E]:
//   s[j, q] = scale · p[j] · u[q]
// For each target t = (image i, phrase q, patch set S_t ⊂ image i's patches), two terms:
//   pointing: A_t = logsumexp_{j ∈ image i} s[j, q] - logsumexp_{j ∈ S_t} s[j, q]
//             (the spatial softmax of the phrase's map puts its mass inside the object: the
//             pointing game's argmax, made differentiable);
//   naming:   N_j = logsumexp_{q'} s[j, q'] - s[j, q] for each j ∈ S_t
//             (each covered patch names its own phrase among the batch's phrases: a red circle's
//             patches are not a red square's).
//   loss = mean_t A_t + mean over all covered patches of N_j.
// Backward: ds[j, q] from both softmaxes, then dP += scale · ds U, dU += scale · dsᵀ P.
// Computed in Double; sizes are small (B·P x Q, Q at most a few dozen).

/// One target of `TrainOps.regionLoss`: the patches (indices into image `image`'s P patches) that
/// show phrase `phrase`.
public struct RegionLossTarget: Sendable, Equatable {
    public var image: Int
    public var phrase: Int
    public var patches: [Int]
    public init(image: Int, phrase: Int, patches: [Int]) { self.image = image; self.phrase = phrase; self.patches = patches }
}

extension TrainOps {
    /// The region-phrase loss above. `patches` [B·P, E] and `phrases` [Q, E] must be L2-normalised;
    /// `scale` is the logit scale (not trained by this loss). Accumulates into `dPatches` [B·P, E]
    /// and `dPhrases` [Q, E] when given; returns the loss (0 with no targets).
    public static func regionLoss(
        patches: UnsafePointer<Float>, phrases: UnsafePointer<Float>, scale: Float, batch: Int, patchCount: Int,
        phraseCount: Int, dim: Int, targets: [RegionLossTarget],
        dPatches: UnsafeMutablePointer<Float>?, dPhrases: UnsafeMutablePointer<Float>?
    ) -> Float {
        let P = patchCount, Q = phraseCount, E = dim, rows = batch * P
        let targets = targets.filter { !$0.patches.isEmpty }
        guard !targets.isEmpty, Q > 0 else { return 0 }
        for t in targets {
            precondition(t.image >= 0 && t.image < batch && t.phrase >= 0 && t.phrase < Q && t.patches.allSatisfy { $0 >= 0 && $0 < P },
                         "TrainOps.regionLoss: target \(t) outside \(batch) images, \(P) patches, \(Q) phrases")
        }
        let sc = Double(scale)
        // s[j, q] for every row of an image that has a target.
        var s = [Double](repeating: 0, count: rows * Q)
        let images = Set(targets.map(\.image))
        for i in images {
            for j in (i * P)..<((i + 1) * P) {
                let pj = patches + j * E
                for q in 0..<Q {
                    let uq = phrases + q * E
                    var d = 0.0
                    for e in 0..<E { d += Double(pj[e]) * Double(uq[e]) }
                    s[j * Q + q] = sc * d
                }
            }
        }
        var ds = [Double](repeating: 0, count: rows * Q)
        var loss = 0.0
        let covered = Double(targets.reduce(0) { $0 + $1.patches.count })
        let wA = 1 / Double(targets.count), wN = 1 / covered
        func logSumExp(_ xs: [Double]) -> Double {
            let m = xs.max() ?? 0
            return m + log(xs.reduce(0) { $0 + exp($1 - m) })
        }
        for t in targets {
            let q = t.phrase, base = t.image * P
            // Pointing: the phrase's spatial softmax over the image's patches.
            let all = (0..<P).map { s[(base + $0) * Q + q] }
            let inside = t.patches.map { all[$0] }
            let lzAll = logSumExp(all), lzIn = logSumExp(inside)
            loss += wA * (lzAll - lzIn)
            for j in 0..<P { ds[(base + j) * Q + q] += wA * exp(all[j] - lzAll) }
            for j in t.patches { ds[(base + j) * Q + q] -= wA * exp(all[j] - lzIn) }
            // Naming: each covered patch's softmax over the phrases.
            for j in t.patches {
                let row = (base + j) * Q
                let z = (0..<Q).map { s[row + $0] }
                let lz = logSumExp(z)
                loss += wN * (lz - z[q])
                for r in 0..<Q { ds[row + r] += wN * exp(z[r] - lz) }
                ds[row + q] -= wN
            }
        }
        if let dPatches {
            for i in images {
                for j in (i * P)..<((i + 1) * P) {
                    for q in 0..<Q where ds[j * Q + q] != 0 {
                        let g = sc * ds[j * Q + q], uq = phrases + q * E, dp = dPatches + j * E
                        for e in 0..<E { dp[e] += Float(g * Double(uq[e])) }
                    }
                }
            }
        }
        if let dPhrases {
            for q in 0..<Q {
                var acc = [Double](repeating: 0, count: E)
                for i in images {
                    for j in (i * P)..<((i + 1) * P) where ds[j * Q + q] != 0 {
                        let g = sc * ds[j * Q + q], pj = patches + j * E
                        for e in 0..<E { acc[e] += g * Double(pj[e]) }
                    }
                }
                let du = dPhrases + q * E
                for e in 0..<E { du[e] += Float(acc[e]) }
            }
        }
        return Float(loss)
    }
}
