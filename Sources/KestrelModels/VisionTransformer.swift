import KestrelKernels

/// The CLIP image tower (ViT):
///   patches = conv(P x P, stride P, no bias)(image)        [B, N, W]   (im2col, then one product)
///   x = [class; patches] + positions                        [B, N+1, W]
///   x = blocks(ln_pre(x))                                   [B, N+1, W]
///   embedding = proj(ln_post(x[:, 0]))                      [B, E]
/// Every product runs through the GEMM seam on buffers from `pool`. Twin: `NaiveCLIP`.
public struct VisionTransformer: Sendable {
    public let imageSize: Int
    public let patchSize: Int
    public let width: Int
    let patch: LinearWeight          // [W, 3 P P] (the conv weight [W, 3, P, P], flattened)
    let classEmbedding: [Float]      // [W]
    let positions: [Float]           // [N+1, W]
    let preWeight, preBias: [Float]  // [W]
    let blocks: [TransformerBlock]
    let postWeight, postBias: [Float] // [W]
    let projection: LinearWeight     // [E, W], no bias
    let eps: Float
    let pool = WorkspacePool()

    init(reading r: WeightReader, config c: CLIPConfig, gemm: GEMMChoice) throws {
        let w = c.vision.width, p = c.patchSize
        imageSize = c.imageSize
        patchSize = p
        width = w
        let conv = try r.tensor("vision.patch", shape: [w, 3, p, p])
        patch = LinearWeight(weight: conv.reshaped([w, 3 * p * p]), bias: nil, precision: gemm.precision, backend: gemm.backend)
        classEmbedding = try r.tensor("vision.class", shape: [w]).data
        positions = try r.tensor("vision.position", shape: [c.visionTokens, w]).data
        preWeight = try r.tensor("vision.pre.weight", shape: [w]).data
        preBias = try r.tensor("vision.pre.bias", shape: [w]).data
        blocks = try (0..<c.vision.layers).map {
            try TransformerBlock(reading: r, tower: "vision", index: $0, config: c.vision, gemm: gemm)
        }
        postWeight = try r.tensor("vision.post.weight", shape: [w]).data
        postBias = try r.tensor("vision.post.bias", shape: [w]).data
        projection = LinearWeight(weight: try r.tensor("vision.projection", shape: [c.embedDim, w]), bias: nil,
                                  precision: gemm.precision, backend: gemm.backend)
        eps = c.vision.layerNormEps
    }

    /// pixels: [B, 3, S, S], preprocessed -> [B, E], not normalised. Safe to call from several
    /// threads at once (each call has its own workspace).
    public func forward(_ pixels: Tensor, threads: Int = Kernels.threads) -> Tensor {
        precondition(pixels.rank == 4 && pixels.shape[1] == 3 && pixels.shape[2] == imageSize && pixels.shape[3] == imageSize,
                     "VisionTransformer.forward: pixels must be [B, 3, \(imageSize), \(imageSize)], got \(pixels.shape)")
        // int8 quantises each product's activations with one scale per call: one image per call,
        // so an image's embedding never depends on the images that share its batch (an int8
        // product of 50 rows runs at the rate of 1600: kestrel-bench gemm).
        if projection.precision == .int8 && pixels.shape[0] > 1 {
            let b = pixels.shape[0], n = pixels.count / b
            var out: [Float] = []
            for i in 0..<b {
                out += forward(Tensor(shape: [1, 3, imageSize, imageSize], data: Array(pixels.data[(i * n)..<((i + 1) * n)])),
                               threads: threads).data
            }
            return Tensor(shape: [b, out.count / b], data: out)
        }
        let b = pixels.shape[0]
        let grid = imageSize / patchSize, t = grid * grid + 1, w = width
        let e = projection.outFeatures
        var result = Tensor(shape: [b, e])
        guard b > 0 else { return result }
        pool.withWorkspace { ws in
            let (x, h) = embed(pixels, into: ws, threads: threads)                                   // x = ln_pre([class; patches] + pos)
            // Every block but the last on all tokens; the last only for the class token it pools.
            for block in blocks.dropLast() { block.forward(ws, batch: b, tokens: t, causal: false, threads: threads) }
            blocks.last?.forwardPooled(ws, batch: b, tokens: t, positions: [Int](repeating: 0, count: b), causal: false,
                                       threads: threads)                                              // x[0..<B] = x[:, 0]
            if blocks.isEmpty { for i in 0..<b { (x + i * w).update(from: x + i * t * w, count: w) } }
            h.update(from: x, count: b * w)                                                             // h = pooled  [B, W]
            postWeight.withUnsafeBufferPointer { g in postBias.withUnsafeBufferPointer { be in
                layerNormRows(h, rows: b, columns: w, weight: g.baseAddress!, bias: be.baseAddress!, eps: eps,
                              into: h, threads: threads)
            } }
            result.data.withUnsafeMutableBufferPointer { out in
                projection.apply(h, rows: b, into: out.baseAddress!, threads: threads)               // [B, E]
            }
        }
        return result
    }

    /// Token states after ln_pre and the first `blocks` blocks (default all), before ln_post:
    /// pixels [B, 3, S, S] -> [B, N+1, W], row 0 of each image the class token, then the patches
    /// row-major (y then x). The grounding heads (OWL-ViT, dense CLIP) start from these.
    public func hiddenStates(_ pixels: Tensor, blocks count: Int? = nil, threads: Int = Kernels.threads) -> Tensor {
        precondition(pixels.rank == 4 && pixels.shape[1] == 3 && pixels.shape[2] == imageSize && pixels.shape[3] == imageSize,
                     "VisionTransformer.hiddenStates: pixels must be [B, 3, \(imageSize), \(imageSize)], got \(pixels.shape)")
        let b = pixels.shape[0], grid = imageSize / patchSize, t = grid * grid + 1
        var result = Tensor(shape: [b, t, width])
        guard b > 0 else { return result }
        let n = min(max(count ?? blocks.count, 0), blocks.count)
        pool.withWorkspace { ws in
            let (x, _) = embed(pixels, into: ws, threads: threads)
            for block in blocks.prefix(n) { block.forward(ws, batch: b, tokens: t, causal: false, threads: threads) }
            result.data.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: x, count: b * t * width) }
        }
        return result
    }

    /// The number of transformer blocks.
    public var layers: Int { blocks.count }

    /// Reserves `ws` for a batch and writes x = ln_pre([class; patches] + positions) [B, T, W];
    /// returns (x, h) with h free scratch of [B, T, W].
    private func embed(_ pixels: Tensor, into ws: ForwardWorkspace, threads: Int)
        -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) {
        let b = pixels.shape[0]
        let p = patchSize, grid = imageSize / p, n = grid * grid, t = n + 1, w = width
        let k = 3 * p * p
        let wideColumns = max(blocks.map(\.wideColumns).max() ?? 0, 1)
        ws.reserve(x: b * t * w, h: b * t * w, wide: max(b * t * wideColumns, b * n * k))
        let (x, h, wide) = (ws.x, ws.h, ws.wide)
        pixels.data.withUnsafeBufferPointer { im2col($0.baseAddress!, batch: b, into: wide) }  // wide = [B*N, 3PP]
        patch.apply(wide, rows: b * n, into: h, threads: threads)                               // h = patches [B*N, W]
        classEmbedding.withUnsafeBufferPointer { cls in positions.withUnsafeBufferPointer { pos in
            for i in 0..<b {                                                                      // x = [class; h] + pos
                let xi = x + i * t * w
                for c in 0..<w { xi[c] = cls[c] + pos[c] }
                for j in 0..<n {
                    let src = h + (i * n + j) * w, dst = xi + (j + 1) * w, pj = (j + 1) * w
                    for c in 0..<w { dst[c] = src[c] + pos[pj + c] }
                }
            }
        } }
        preWeight.withUnsafeBufferPointer { g in preBias.withUnsafeBufferPointer { be in
            layerNormRows(x, rows: b * t, columns: w, weight: g.baseAddress!, bias: be.baseAddress!, eps: eps,
                          into: x, threads: threads)                                              // x = ln_pre(x)
        } }
        return (x, h)
    }

    /// Pixels [B, 3, S, S] -> patches [B*N, 3*P*P], columns ordered (channel, ky, kx) like the
    /// conv weight, patches row-major (y then x). Pixels past the last whole patch are ignored.
    private func im2col(_ src: UnsafePointer<Float>, batch b: Int, into dst: UnsafeMutablePointer<Float>) {
        let p = patchSize, s = imageSize, grid = s / p, k = 3 * p * p
        for i in 0..<b {
            for py in 0..<grid {
                for px in 0..<grid {
                    var d = dst + ((i * grid + py) * grid + px) * k
                    for ch in 0..<3 {
                        for ky in 0..<p {
                            d.update(from: src + ((i * 3 + ch) * s + py * p + ky) * s + px * p, count: p)
                            d += p
                        }
                    }
                }
            }
        }
    }
}
