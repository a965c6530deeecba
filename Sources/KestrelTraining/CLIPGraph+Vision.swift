import KestrelKernels
import KestrelModels

/// The vision tower (transformers' CLIPVisionTransformer, open_clip's VisionTransformer):
///   patches = conv(pixels)                      [B, P, W]   P = (S/p)², stride p, no bias
///   x0 = [class | patches] + position           [B, N, W]   N = P + 1
///   x = blocks(ln_pre(x0))                      [B, N, W]
///   embedding = normalise(proj(ln_post(x[:, 0])))   [B, E]
extension CLIPGraph {
    /// Forward of `b` images [B, 3, S, S]; leaves the normalised embeddings in v.tower.normalized.
    func visionForward(_ p: ParameterPointers, _ v: VisionBuffers, pixels: UnsafePointer<Float>, batch b: Int) {
        let c = config, s = v.tower
        let n = c.visionTokens, w = c.vision.width, patches = n - 1
        TrainOps.patchEmbedForward(out: v.patches, images: pixels, weight: p.w("vision.patch"), batch: b,
                                   channels: 3, height: c.imageSize, width: c.imageSize, patch: c.patchSize,
                                   embedWidth: w)                                              // [B, P, W]
        let cls = p.w("vision.class")
        for i in 0..<b {                                                                       // x0 = class | patches
            (v.embedded + i * n * w).update(from: cls, count: w)
            (v.embedded + (i * n + 1) * w).update(from: v.patches + i * patches * w, count: patches * w)
        }
        TrainOps.positionAddForward(x: v.embedded, position: p.w("vision.position"), batch: b, tokens: n, width: w)
        TrainOps.layerNormForward(y: s.x[0], mean: v.preMean, rstd: v.preRstd, x: v.embedded,
                                  weight: p.w("vision.pre.weight"), bias: p.w("vision.pre.bias"),
                                  rows: b * n, dim: w, eps: c.vision.layerNormEps)             // x[0] [B, N, W]
        let layers = c.vision.layers
        for l in 0..<(layers - 1) {
            blockForward(p, s, prefix: "vision", layer: l, batch: b, tokens: n, causal: false,
                         eps: c.vision.layerNormEps, activation: visionActivation)
        }
        blockForwardPooled(p, s, prefix: "vision", layer: layers - 1, batch: b, tokens: n,
                           pools: [Int](repeating: 0, count: b), causal: false, eps: c.vision.layerNormEps,
                           activation: visionActivation)                                       // class rows [B, W]
        headForward(p, s, norm: "vision.post", projection: "vision.projection", batch: b, eps: c.vision.layerNormEps)
    }

    /// Backward from v.tower.dNormalized [B, E] (set by the loss); accumulates every trainable
    /// vision gradient and stops as soon as nothing further down is trainable.
    /// `dense`: the dense path's d(qkv) of the last block (`denseBackward`), when the region loss ran.
    func visionBackward(_ p: ParameterPointers, _ v: VisionBuffers, pixels: UnsafePointer<Float>, batch b: Int,
                        dense: DenseBuffers? = nil) {
        let c = config, s = v.tower
        let n = c.visionTokens, w = c.vision.width, patches = n - 1, layers = c.vision.layers
        guard p.anyTrainable("vision.") else { return }
        headBackward(p, s, norm: "vision.post", projection: "vision.projection", batch: b)
        // Which blocks (and the embeddings under them) still need a gradient flowing down.
        let embeddingsTrainable = ["vision.patch", "vision.class", "vision.position", "vision.pre."].contains { p.anyTrainable($0) }
        let blockTrainable = (0..<layers).map { p.anyTrainable("vision.block\($0).") }
        func needed(below l: Int) -> Bool { embeddingsTrainable || blockTrainable[..<l].contains(true) }
        guard needed(below: layers) else { return }
        blockBackwardPooled(p, s, prefix: "vision", layer: layers - 1, batch: b, tokens: n,
                            pools: [Int](repeating: 0, count: b), activation: visionActivation,
                            extraDQKV: dense?.dQKV)                                            // dx = d x[L-1]
        if !needed(below: layers - 1) { return }
        for l in stride(from: layers - 2, through: 0, by: -1) {
            blockBackward(p, s, prefix: "vision", layer: l, batch: b, tokens: n, activation: visionActivation)
            if !needed(below: l) { return }
        }
        zero(v.dEmbedded, b * n * w)
        TrainOps.layerNormBackward(dx: v.dEmbedded, dWeight: p.g("vision.pre.weight"), dBias: p.g("vision.pre.bias"),
                                   dy: s.dx, x: v.embedded, mean: v.preMean, rstd: v.preRstd,
                                   weight: p.w("vision.pre.weight"), rows: b * n, dim: w)     // d x0 [B, N, W]
        if let dPosition = p.g("vision.position") {
            TrainOps.positionAddBackward(dPosition: dPosition, dx: v.dEmbedded, batch: b, tokens: n, width: w)
        }
        if let dClass = p.g("vision.class") {
            for i in 0..<b { addInPlace(dClass, v.dEmbedded + i * n * w, w) }
        }
        if let dPatch = p.g("vision.patch") {
            for i in 0..<b {
                (v.dPatches + i * patches * w).update(from: v.dEmbedded + (i * n + 1) * w, count: patches * w)
            }
            TrainOps.patchEmbedBackward(dWeight: dPatch, dOut: v.dPatches, images: pixels, batch: b, channels: 3,
                                        height: c.imageSize, width: c.imageSize, patch: c.patchSize, embedWidth: w)
        }
    }
}
