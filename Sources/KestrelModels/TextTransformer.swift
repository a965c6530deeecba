import KestrelKernels

/// The CLIP text tower (causal transformer):
///   x = token_embedding[ids] + positions                    [B, T, W]   T = longest sequence up to its end token
///   x = blocks(x, causal)                                   [B, T, W]
///   embedding = proj(ln_final(x[b, first end token]))       [B, E]
/// Because attention is causal, tokens after the end token cannot change the pooled row:
/// each batch runs only up to its longest end-token position, so cost grows with the text.
public struct TextTransformer: Sendable {
    public let contextLength: Int
    public let vocabSize: Int
    public let endTokenID: Int
    let tokenEmbedding: Tensor       // [V, W]
    let positions: Tensor            // [ctx, W]
    let blocks: [TransformerBlock]
    let finalWeight, finalBias: Tensor // [W]
    let projection: Tensor           // [E, W]
    let eps: Float

    init(reading r: WeightReader, config c: CLIPConfig) throws {
        let w = c.text.width
        contextLength = c.contextLength
        vocabSize = c.vocabSize
        endTokenID = c.endTokenID
        tokenEmbedding = try r.tensor("text.token", shape: [c.vocabSize, w])
        positions = try r.tensor("text.position", shape: [c.contextLength, w])
        blocks = try (0..<c.text.layers).map {
            try TransformerBlock(reading: r, tower: "text", index: $0, config: c.text)
        }
        finalWeight = try r.tensor("text.final.weight", shape: [w])
        finalBias = try r.tensor("text.final.bias", shape: [w])
        projection = try r.tensor("text.projection", shape: [c.embedDim, w])
        eps = c.text.layerNormEps
    }

    /// The position the tower pools at: the first end token (or the last token if there is none).
    public func poolPosition(_ ids: [Int]) -> Int {
        ids.firstIndex(of: endTokenID) ?? (ids.count - 1)
    }

    /// ids: B sequences of token ids (padding after the end token is allowed and ignored) -> [B, E].
    public func forward(_ sequences: [[Int]]) throws -> Tensor {
        for (n, ids) in sequences.enumerated() {
            guard !ids.isEmpty, ids.count <= contextLength else {
                throw ModelError.badTokenIDs(reason: "sequence \(n) has \(ids.count) tokens; 1...\(contextLength) allowed")
            }
            if let bad = ids.first(where: { $0 < 0 || $0 >= vocabSize }) {
                throw ModelError.badTokenIDs(reason: "sequence \(n) holds id \(bad), outside the vocabulary of \(vocabSize)")
            }
        }
        let b = sequences.count
        let pools = sequences.map(poolPosition)
        let t = (pools.max() ?? 0) + 1                   // compute only up to the last end token
        let w = tokenEmbedding.shape[1]
        var flat = [Int](repeating: 0, count: b * t)
        for (i, ids) in sequences.enumerated() {
            for j in 0..<min(t, ids.count) { flat[i * t + j] = ids[j] }
        }
        var x = embeddingGather(tokenEmbedding, ids: flat)   // [B*T, W]
        x.data.withUnsafeMutableBufferPointer { out in
            for i in 0..<b { for j in 0..<t { for c in 0..<w { out[(i * t + j) * w + c] += positions.data[j * w + c] } } }
        }
        x.reshape([b, t, w])                                 // [B, T, W]
        for block in blocks { x = block.forward(x, causal: true) }
        var pooled = Tensor(shape: [b, w])                   // [B, W]
        for i in 0..<b {
            let s = (i * t + pools[i]) * w
            pooled.data.replaceSubrange((i * w)..<((i + 1) * w), with: x.data[s..<(s + w)])
        }
        pooled = layerNorm(pooled, weight: finalWeight, bias: finalBias, eps: eps)
        return linear(pooled, weight: projection, bias: nil) // [B, E]
    }
}
