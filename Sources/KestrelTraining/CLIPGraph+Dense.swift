import Foundation
import KestrelKernels
import KestrelModels

/// The dense (per-patch) path the grounding loss trains, MaskCLIP's (Zhou et al., "Extract Free
/// Dense Labels from CLIP", ECCV 2022): the last vision block's value path through its
/// out-projection, then the tower's post-LayerNorm and projection, for every patch token:
///   v = (ln1(x[L-1]) Wqkv + b)[:, value columns]      [B·P, W]   (the class row left out)
///   dense = v Wout + bout                              [B·P, W]
///   patch = normalise(proj(ln_post(dense)))            [B·P, E]
/// `VisionTransformer.denseFeatures(method: .maskCLIP)` is the inference twin. The phrases
/// ("a red circle") go through the text tower as captions do, in buffers of their own.
final class DenseBuffers {
    let batch, patches, width, embedDim: Int
    let v, dense, post: FloatPointer                   // [B·P, W]
    let mean, rstd, norm: FloatPointer                 // [B·P]
    let projected, normalized: FloatPointer            // [B·P, E]
    let dNormalized, dProjected: FloatPointer          // [B·P, E]
    let dPost, dDense, dV: FloatPointer                // [B·P, W]
    let dQKV: FloatPointer                             // [B·T, 3W], the value columns of patch rows set
    /// The phrases' text tower, for at most `CLIPGraph.maxRegionPhrases` phrases.
    let phrases: TowerBuffers
    let arena = BufferArena()

    init(batch b: Int, config c: CLIPConfig) {
        batch = b; patches = c.visionTokens - 1; width = c.vision.width; embedDim = c.embedDim
        let r = b * patches, w = width, e = embedDim, a = arena
        v = a.make(r * w); dense = a.make(r * w); post = a.make(r * w)
        mean = a.make(r); rstd = a.make(r); norm = a.make(r)
        projected = a.make(r * e); normalized = a.make(r * e)
        dNormalized = a.make(r * e); dProjected = a.make(r * e)
        dPost = a.make(r * w); dDense = a.make(r * w); dV = a.make(r * w)
        dQKV = a.make(b * c.visionTokens * 3 * w)
        phrases = TowerBuffers(batch: CLIPGraph.maxRegionPhrases, tokens: c.contextLength, tower: c.text, embedDim: e)
    }
}

extension CLIPGraph {
    /// Phrases per batch the region loss takes (the rest of a batch's phrases are left out).
    static let maxRegionPhrases = 64

    /// The region targets of `batch` as patch sets, the phrases kept.
    func regionTargets(_ batch: TrainingBatch) -> (targets: [RegionLossTarget], phrases: [[Int]]) {
        let phrases = Array(batch.regionPhrases.prefix(Self.maxRegionPhrases))
        let grid = config.imageSize / config.patchSize
        // One target per (image, phrase): identical objects (a counting scene) share their phrase's map.
        var merged = [String: RegionLossTarget]()
        var order = [String]()
        for r in batch.regions where r.phrase < phrases.count && r.image >= 0 && r.image < batch.count {
            let key = "\(r.image) \(r.phrase)"
            let cells = r.patches(grid: grid, patchSize: config.patchSize)
            if merged[key] == nil { merged[key] = RegionLossTarget(image: r.image, phrase: r.phrase, patches: []); order.append(key) }
            merged[key]!.patches += cells
        }
        let targets = order.map { key -> RegionLossTarget in
            var t = merged[key]!
            t.patches = Array(Set(t.patches)).sorted()
            return t
        }.filter { !$0.patches.isEmpty }
        return (targets, phrases)
    }

    /// The dense path's forward for `b` images; the vision forward must have run (it leaves the
    /// last block's qkv in s.qkv[L-1]).
    func denseForward(_ p: ParameterPointers, _ v: VisionBuffers, _ d: DenseBuffers, batch b: Int) {
        let c = config, s = v.tower, l = c.vision.layers - 1
        let t = c.visionTokens, np = t - 1, w = c.vision.width, r = b * np
        for i in 0..<b {
            for j in 0..<np {                                                                  // v = value columns of patch rows
                (d.v + (i * np + j) * w).update(from: s.qkv[l] + (i * t + 1 + j) * 3 * w + 2 * w, count: w)
            }
        }
        let name = "vision.block\(l)."
        TrainOps.linearForward(y: d.dense, x: d.v, weight: p.w(name + "out.weight"), bias: p.w(name + "out.bias"),
                               rows: r, inDim: w, outDim: w)                                   // dense [B·P, W]
        TrainOps.layerNormForward(y: d.post, mean: d.mean, rstd: d.rstd, x: d.dense, weight: p.w("vision.post.weight"),
                                  bias: p.w("vision.post.bias"), rows: r, dim: w, eps: c.vision.layerNormEps)
        TrainOps.linearForward(y: d.projected, x: d.post, weight: p.w("vision.projection"), bias: nil,
                               rows: r, inDim: w, outDim: c.embedDim)                          // [B·P, E]
        TrainOps.l2NormalizeForward(y: d.normalized, norm: d.norm, x: d.projected, rows: r, dim: c.embedDim)
    }

    /// The dense path's backward from d.dNormalized: accumulates the gradients of the projection,
    /// ln_post and the last block's out-projection, and leaves d(qkv) of the last block in d.dQKV
    /// (value columns of patch rows; zero elsewhere) for `blockBackwardPooled` to add.
    func denseBackward(_ p: ParameterPointers, _ d: DenseBuffers, batch b: Int) {
        let c = config, l = c.vision.layers - 1
        let t = c.visionTokens, np = t - 1, w = c.vision.width, e = c.embedDim, r = b * np
        let name = "vision.block\(l)."
        zero(d.dProjected, r * e)
        TrainOps.l2NormalizeBackward(dx: d.dProjected, dy: d.dNormalized, y: d.normalized, norm: d.norm, rows: r, dim: e)
        zero(d.dPost, r * w)
        TrainOps.linearBackward(dx: d.dPost, dWeight: p.g("vision.projection"), dBias: nil, dy: d.dProjected, x: d.post,
                                weight: p.w("vision.projection"), rows: r, inDim: w, outDim: e)
        zero(d.dDense, r * w)
        TrainOps.layerNormBackward(dx: d.dDense, dWeight: p.g("vision.post.weight"), dBias: p.g("vision.post.bias"),
                                   dy: d.dPost, x: d.dense, mean: d.mean, rstd: d.rstd,
                                   weight: p.w("vision.post.weight"), rows: r, dim: w)
        zero(d.dV, r * w)
        TrainOps.linearBackward(dx: d.dV, dWeight: p.g(name + "out.weight"), dBias: p.g(name + "out.bias"),
                                dy: d.dDense, x: d.v, weight: p.w(name + "out.weight"), rows: r, inDim: w, outDim: w)
        zero(d.dQKV, b * t * 3 * w)
        for i in 0..<b {
            for j in 0..<np {
                (d.dQKV + (i * t + 1 + j) * 3 * w + 2 * w).update(from: d.dV + (i * np + j) * w, count: w)
            }
        }
    }
}

extension CLIPGraph {
    /// The normalised dense patch features [B·P, E] of pixels [B, 3, S, S] by the training path
    /// (forward only): what tests compare with `VisionTransformer.denseFeatures(method: .maskCLIP)`.
    func denseFeaturesForTesting(_ pixels: [Float]) -> [Float] {
        let s = config.imageSize, b = pixels.count / (3 * s * s), r = b * (config.visionTokens - 1)
        return withParameterPointers { p in
            let v = VisionBuffers(batch: b, config: config), d = DenseBuffers(batch: b, config: config)
            pixels.withUnsafeBufferPointer { visionForward(p, v, pixels: $0.baseAddress!, batch: b) }
            denseForward(p, v, d, batch: b)
            return Array(UnsafeBufferPointer(start: d.normalized, count: r * config.embedDim))
        }
    }
}
