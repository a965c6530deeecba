import KestrelKernels

/// The CLIP text tower (causal transformer):
///   x = token_embedding[ids] + positions                    [B, T, W]   T = longest sequence up to its end token
///   x = blocks(x, causal)                                   [B, T, W]
///   embedding = proj(ln_final(x[b, first end token]))       [B, E]
/// Because attention is causal, tokens after the end token cannot change the pooled row:
/// each batch runs only up to its longest end-token position, so cost grows with the text.
/// Every product runs through the GEMM seam on buffers from `pool`. Twin: `NaiveCLIP`.
public struct TextTransformer: Sendable {
    public let contextLength: Int
    public let vocabSize: Int
    public let endTokenID: Int
    public let width: Int
    let tokenEmbedding: [Float]      // [V, W]
    let positions: [Float]           // [ctx, W]
    let blocks: [TransformerBlock]
    let finalWeight, finalBias: [Float] // [W]
    let projection: LinearWeight     // [E, W], no bias
    let eps: Float
    let pool = WorkspacePool()

    init(reading r: WeightReader, config c: CLIPConfig, gemm: GEMMChoice) throws {
        let w = c.text.width
        contextLength = c.contextLength
        vocabSize = c.vocabSize
        endTokenID = c.endTokenID
        width = w
        tokenEmbedding = try r.tensor("text.token", shape: [c.vocabSize, w]).data
        positions = try r.tensor("text.position", shape: [c.contextLength, w]).data
        blocks = try (0..<c.text.layers).map {
            try TransformerBlock(reading: r, tower: "text", index: $0, config: c.text, gemm: gemm)
        }
        finalWeight = try r.tensor("text.final.weight", shape: [w]).data
        finalBias = try r.tensor("text.final.bias", shape: [w]).data
        projection = LinearWeight(weight: try r.tensor("text.projection", shape: [c.embedDim, w]), bias: nil,
                                  precision: gemm.precision, backend: gemm.backend)
        eps = c.text.layerNormEps
    }

    /// The position the tower pools at: the first end token (or the last token if there is none).
    public func poolPosition(_ ids: [Int]) -> Int {
        ids.firstIndex(of: endTokenID) ?? (ids.count - 1)
    }

    /// Throws `ModelError.badTokenIDs` unless every sequence has 1...contextLength ids in the vocabulary.
    func check(_ sequences: [[Int]]) throws {
        for (n, ids) in sequences.enumerated() {
            guard !ids.isEmpty, ids.count <= contextLength else {
                throw ModelError.badTokenIDs(reason: "sequence \(n) has \(ids.count) tokens; 1...\(contextLength) allowed")
            }
            if let bad = ids.first(where: { $0 < 0 || $0 >= vocabSize }) {
                throw ModelError.badTokenIDs(reason: "sequence \(n) holds id \(bad), outside the vocabulary of \(vocabSize)")
            }
        }
    }

    /// ids: B sequences of token ids (padding after the end token is allowed and ignored) -> [B, E].
    /// Safe to call from several threads at once (each call has its own workspace).
    public func forward(_ sequences: [[Int]], threads: Int = Kernels.threads) throws -> Tensor {
        try check(sequences)
        // int8 quantises each product's activations with one scale per call: one text per call
        // (computing only up to its own end token), so a text's embedding never depends on the
        // texts beside it or on their padding.
        if projection.precision == .int8 && sequences.count > 1 {
            var out: [Float] = []
            for ids in sequences { out += try forward([ids], threads: threads).data }
            return Tensor(shape: [sequences.count, out.count / sequences.count], data: out)
        }
        let b = sequences.count, w = width
        let e = projection.outFeatures
        var result = Tensor(shape: [b, e])
        guard b > 0 else { return result }
        let pools = sequences.map(poolPosition)
        // Compute only up to the last end token: with oneDNN a product of few rows costs about its
        // share of reading the weights, so a short query is cheaper than a long one (kestrel bench).
        let t = (pools.max() ?? 0) + 1
        pool.withWorkspace { ws in
            let wideColumns = max(blocks.map(\.wideColumns).max() ?? 0, 1)
            ws.reserve(x: b * t * w, h: b * t * w, wide: b * t * wideColumns)
            let (x, h) = (ws.x, ws.h)
            tokenEmbedding.withUnsafeBufferPointer { table in positions.withUnsafeBufferPointer { pos in
                for (i, ids) in sequences.enumerated() {                                           // x = tok[ids] + pos
                    for j in 0..<t {
                        let dst = x + (i * t + j) * w
                        let row = table.baseAddress! + (j < ids.count ? ids[j] : 0) * w, pj = j * w
                        for c in 0..<w { dst[c] = row[c] + pos[pj + c] }
                    }
                }
            } }
            // Every block but the last on all tokens; the last only for the end-token rows it pools.
            for block in blocks.dropLast() { block.forward(ws, batch: b, tokens: t, causal: true, threads: threads) }
            blocks.last?.forwardPooled(ws, batch: b, tokens: t, positions: pools, causal: true, threads: threads)
            if blocks.isEmpty { for i in 0..<b { (x + i * w).update(from: x + (i * t + pools[i]) * w, count: w) } }
            h.update(from: x, count: b * w)                                                       // h = pooled [B, W]
            finalWeight.withUnsafeBufferPointer { g in finalBias.withUnsafeBufferPointer { be in
                layerNormRows(h, rows: b, columns: w, weight: g.baseAddress!, bias: be.baseAddress!, eps: eps,
                              into: h, threads: threads)
            } }
            result.data.withUnsafeMutableBufferPointer { out in
                projection.apply(h, rows: b, into: out.baseAddress!, threads: threads)             // [B, E]
            }
        }
        return result
    }
}
