import Foundation
import KestrelKernels

/// How the last block of a CLIP ViT is changed so that its patch tokens, projected like the class
/// token (ln_post, then the projection), land in the joint space: training-free dense features.
/// Every method drops the last block's residual and MLP and keeps its out-projection.
public enum DenseMethod: String, Sendable, CaseIterable {
    /// The method Kestrel uses unless told otherwise: MaskCLIP, the path the default model's
    /// region-phrase loss trains (`CLIPGraph+Dense`), and the best of the three on held-out
    /// rendered scenes with that model (docs/grounding.md).
    public static let standard: DenseMethod = .maskCLIP
    /// MaskCLIP (Zhou, Loy, Dai, "Extract Free Dense Labels from CLIP", ECCV 2022): the value
    /// path v = W_v ln1(x) + b_v of each token, no attention.
    case maskCLIP = "maskclip"
    /// ClearCLIP (Lan et al., "ClearCLIP: Decomposing CLIP Representations for Dense
    /// Vision-Language Inference", ECCV 2024): self-self attention softmax(q qᵀ / √d) v.
    case clearCLIP = "clearclip"
    /// NACLIP (Hajimiri, Ben Ayed, Dolz, "Pay Attention to Your Neighbours: Training-Free
    /// Open-Vocabulary Semantic Segmentation", WACV 2025): softmax(k kᵀ / √d + G) v with G a
    /// Gaussian of the patch-grid distance (σ = `naclipSigma` patches, peak 1) between two patch
    /// tokens, 0 for pairs with the class token.
    case naclip

    /// NACLIP's Gaussian width in patches (the paper's default, `gaussian_std=5`).
    public static let naclipSigma: Double = 5
}

extension VisionTransformer {
    /// Patch features in the joint space (not normalised): pixels [B, 3, S, S], preprocessed ->
    /// [B, N, E], N = grid * grid patches row-major (y then x), grid = S / P. The first L-1 blocks
    /// run as in the image tower (`hiddenStates`); the last block is replaced by `method`'s
    /// attention (keys and values over all N+1 tokens, class token included), its out-projection,
    /// then ln_post and the projection on every patch token. Cost over `forward` (measured by
    /// `kestrel bench`, `dense_over_image`): the out-projection and the projection on N rows
    /// instead of one, and the method's attention; the last block's MLP is not run.
    /// A model with no blocks projects the ln_pre tokens. Twin: `NaiveCLIP.denseFeatures`.
    public func denseFeatures(_ pixels: Tensor, method: DenseMethod, threads: Int = Kernels.threads) -> Tensor {
        let b = pixels.shape[0], grid = imageSize / patchSize, n = grid * grid, t = n + 1, w = width
        let e = projection.outFeatures
        let x = hiddenStates(pixels, blocks: max(layers - 1, 0), threads: threads)   // [B, T, W]
        var patches = [Float](repeating: 0, count: b * n * w)                          // [B*N, W] before ln_post
        guard b > 0 else { return Tensor(shape: [0, n, e]) }
        if let last = blocks.last {
            patches = last.denseAttentionOutput(x.data, batch: b, tokens: t, grid: grid, method: method, threads: threads)
        } else {
            for i in 0..<b { for j in 0..<n { for c in 0..<w { patches[(i * n + j) * w + c] = x.data[(i * t + j + 1) * w + c] } } }
        }
        var result = Tensor(shape: [b, n, e])
        patches.withUnsafeMutableBufferPointer { p in
            postWeight.withUnsafeBufferPointer { g in postBias.withUnsafeBufferPointer { be in
                layerNormRows(p.baseAddress!, rows: b * n, columns: w, weight: g.baseAddress!, bias: be.baseAddress!, eps: eps,
                              into: p.baseAddress!, threads: threads)                      // ln_post   [B*N, W]
            } }
            result.data.withUnsafeMutableBufferPointer { out in
                projection.apply(p.baseAddress!, rows: b * n, into: out.baseAddress!, threads: threads)   // [B*N, E]
            }
        }
        return result
    }
}

extension TransformerBlock {
    /// The last block as a dense method runs it, without residual or MLP: x [B, T, W] (token 0
    /// the class token) -> out-projection of the method's attention for the patch tokens only,
    /// [B*N, W] (N = T-1).
    func denseAttentionOutput(_ x: [Float], batch b: Int, tokens t: Int, grid: Int, method: DenseMethod, threads: Int) -> [Float] {
        let w = width, n = t - 1, rows = b * t
        var h = [Float](repeating: 0, count: rows * w)
        var qkvOut = [Float](repeating: 0, count: rows * 3 * w)
        x.withUnsafeBufferPointer { xp in h.withUnsafeMutableBufferPointer { hp in
            norm1Weight.withUnsafeBufferPointer { g in norm1Bias.withUnsafeBufferPointer { be in
                layerNormRows(xp.baseAddress!, rows: rows, columns: w, weight: g.baseAddress!, bias: be.baseAddress!,
                              eps: eps, into: hp.baseAddress!, threads: threads)                 // h = ln1(x) [R, W]
            } }
            qkvOut.withUnsafeMutableBufferPointer { q in qkv.apply(hp.baseAddress!, rows: rows, into: q.baseAddress!, threads: threads) }
        } }
        var attended = [Float](repeating: 0, count: b * n * w)                                  // [B*N, W]
        switch method {
        case .maskCLIP:
            for i in 0..<b { for j in 0..<n {
                let src = ((i * t + j + 1) * 3 + 2) * w, dst = (i * n + j) * w
                for c in 0..<w { attended[dst + c] = qkvOut[src + c] }
            } }
        case .clearCLIP, .naclip:
            let block = method == .clearCLIP ? 0 : 1                                             // q-q or k-k
            let bias = method == .naclip ? DenseAttention.neighbourhoodBias(grid: grid, sigma: DenseMethod.naclipSigma) : nil
            DenseAttention.selfSelf(qkvOut, batch: b, tokens: t, heads: heads, width: w, block: block, bias: bias,
                                    into: &attended, threads: threads)
        }
        var out = [Float](repeating: 0, count: b * n * w)
        attended.withUnsafeBufferPointer { a in out.withUnsafeMutableBufferPointer { o in
            self.out.apply(a.baseAddress!, rows: b * n, into: o.baseAddress!, threads: threads)   // out-projection, no residual
        } }
        return out
    }
}

/// The self-self attention of the dense methods on a fused q|k|v product.
enum DenseAttention {
    /// NACLIP's additive prior [T, T] (T = grid² + 1, token 0 the class token): for patches i, j at
    /// grid cells (yi, xi), (yj, xj): exp(-((yi-yj)² + (xi-xj)²) / (2σ²)); 0 in row and column 0.
    static func neighbourhoodBias(grid: Int, sigma: Double) -> [Float] {
        let n = grid * grid, t = n + 1
        var bias = [Float](repeating: 0, count: t * t)
        for i in 0..<n {
            for j in 0..<n {
                let dy = Double(i / grid - j / grid), dx = Double(i % grid - j % grid)
                bias[(i + 1) * t + j + 1] = Float(exp(-(dy * dy + dx * dx) / (2 * sigma * sigma)))
            }
        }
        return bias
    }

    /// For every batch item and head, patch query rows i = 1..<T: softmax_j(s_i · s_j / √d + bias[i, j]) v_j
    /// over all T tokens j, with s the column block `block` (0: q, 1: k) of qkv [B, T, 3W] and v
    /// block 2. Writes [B, T-1, W] (heads merged) into `out`.
    static func selfSelf(_ qkv: [Float], batch b: Int, tokens t: Int, heads: Int, width w: Int, block: Int, bias: [Float]?,
                         into out: inout [Float], threads: Int) {
        let d = w / heads, n = t - 1, scale = 1 / Float(d).squareRoot()
        let tasks = b * heads
        qkv.withUnsafeBufferPointer { qp in out.withUnsafeMutableBufferPointer { op in
            let src = DenseRowsPointer(UnsafeMutablePointer(mutating: qp.baseAddress!)), dst = DenseRowsPointer(op.baseAddress!)
            let biasCopy = bias
            OpenMPRows.forEach(tasks, threads: min(threads, tasks)) { range in
                var scores = [Float](repeating: 0, count: t)
                for task in range {
                    let i = task / heads, hd = task % heads
                    let base = src.pointer + i * t * 3 * w
                    let sOff = block * w + hd * d, vOff = 2 * w + hd * d
                    for r in 1..<t {
                        let qr = base + r * 3 * w + sOff
                        var top = -Float.infinity
                        for j in 0..<t {
                            let kj = base + j * 3 * w + sOff
                            var dot: Float = 0
                            for c in 0..<d { dot += qr[c] * kj[c] }
                            var s = dot * scale
                            if let biasCopy { s += biasCopy[r * t + j] }
                            scores[j] = s
                            top = max(top, s)
                        }
                        var sum: Float = 0
                        for j in 0..<t { scores[j] = Foundation.exp(scores[j] - top); sum += scores[j] }
                        let o = dst.pointer + ((i * n) + r - 1) * w + hd * d
                        for c in 0..<d { o[c] = 0 }
                        for j in 0..<t {
                            let p = scores[j] / sum, vj = base + j * 3 * w + vOff
                            for c in 0..<d { o[c] += p * vj[c] }
                        }
                    }
                }
            }
        } }
    }
}

/// A raw pointer handed to worker closures (each writes its own rows).
struct DenseRowsPointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(_ p: UnsafeMutablePointer<Float>) { pointer = p }
}
