import KestrelKernels

/// The CLIP image tower (ViT):
///   patches = conv(P x P, stride P, no bias)(image)        [B, N, W]
///   x = [class; patches] + positions                        [B, N+1, W]
///   x = blocks(ln_pre(x))                                   [B, N+1, W]
///   embedding = proj(ln_post(x[:, 0]))                      [B, E]
public struct VisionTransformer: Sendable {
    public let imageSize: Int
    public let patchSize: Int
    let patchWeight: Tensor        // [W, 3, P, P]
    let classEmbedding: Tensor     // [W]
    let positions: Tensor          // [N+1, W]
    let preWeight, preBias: Tensor // [W]
    let blocks: [TransformerBlock]
    let postWeight, postBias: Tensor // [W]
    let projection: Tensor         // [E, W]
    let eps: Float

    init(reading r: WeightReader, config c: CLIPConfig) throws {
        let w = c.vision.width
        imageSize = c.imageSize
        patchSize = c.patchSize
        patchWeight = try r.tensor("vision.patch", shape: [w, 3, c.patchSize, c.patchSize])
        classEmbedding = try r.tensor("vision.class", shape: [w])
        positions = try r.tensor("vision.position", shape: [c.visionTokens, w])
        preWeight = try r.tensor("vision.pre.weight", shape: [w])
        preBias = try r.tensor("vision.pre.bias", shape: [w])
        blocks = try (0..<c.vision.layers).map {
            try TransformerBlock(reading: r, tower: "vision", index: $0, config: c.vision)
        }
        postWeight = try r.tensor("vision.post.weight", shape: [w])
        postBias = try r.tensor("vision.post.bias", shape: [w])
        projection = try r.tensor("vision.projection", shape: [c.embedDim, w])
        eps = c.vision.layerNormEps
    }

    /// pixels: [B, 3, S, S], preprocessed -> [B, E], not normalised.
    public func forward(_ pixels: Tensor) -> Tensor {
        let b = pixels.shape[0]
        let patches = patchEmbed(pixels, weight: patchWeight, patchSize: patchSize) // [B, N, W]
        let (n, w) = (patches.shape[1], patches.shape[2])
        var x = Tensor(shape: [b, n + 1, w])                                      // [B, N+1, W]
        x.data.withUnsafeMutableBufferPointer { out in
            patches.data.withUnsafeBufferPointer { p in
                for i in 0..<b {
                    let base = i * (n + 1) * w
                    for c in 0..<w { out[base + c] = classEmbedding.data[c] + positions.data[c] }
                    for t in 0..<n {
                        let o = base + (t + 1) * w, s = (i * n + t) * w, pos = (t + 1) * w
                        for c in 0..<w { out[o + c] = p[s + c] + positions.data[pos + c] }
                    }
                }
            }
        }
        x = layerNorm(x, weight: preWeight, bias: preBias, eps: eps)
        for block in blocks { x = block.forward(x, causal: false) }
        var cls = Tensor(shape: [b, w])                                           // [B, W]
        for i in 0..<b {
            cls.data.replaceSubrange((i * w)..<((i + 1) * w), with: x.data[(i * (n + 1) * w)..<(i * (n + 1) * w + w)])
        }
        cls = layerNorm(cls, weight: postWeight, bias: postBias, eps: eps)
        return linear(cls, weight: projection, bias: nil)                         // [B, E]
    }
}
