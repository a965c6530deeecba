import KestrelKernels

/// A pre-LayerNorm transformer block, shared by both towers:
///   x = x + out(attention(qkv(ln1(x))))
///   x = x + fc2(act(fc1(ln2(x))))
/// on the GEMM seam: one fused q|k|v product, bias + activation in fc1's epilogue, and each
/// residual added by the epilogue of the product that ends its branch (`accumulate`).
/// Twin: `NaiveCLIP` (the unfused Tensor-level block), which tests compare it against.
struct TransformerBlock: Sendable {
    let norm1Weight, norm1Bias: [Float]   // [W]
    let qkv: LinearWeight                 // [3W, W] (q | k | v rows), bias [3W]
    let out: LinearWeight                 // [W, W], bias [W]
    let norm2Weight, norm2Bias: [Float]   // [W]
    let fc1: LinearWeight                 // [M, W], bias [M]
    let fc2: LinearWeight                 // [W, M], bias [W]
    let width, mlpWidth, heads: Int
    let eps: Float
    let activation: Activation

    init(reading reader: WeightReader, tower: String, index i: Int, config c: TowerConfig, gemm: GEMMChoice) throws {
        let (w, m) = (c.width, c.mlpWidth)
        func t(_ name: String, _ shape: [Int]) throws -> Tensor {
            try reader.tensor("\(tower).block{i}.\(name)", block: i, shape: shape)
        }
        func linear(_ name: String, _ shape: [Int]) throws -> LinearWeight {
            try LinearWeight(weight: t("\(name).weight", shape), bias: t("\(name).bias", [shape[0]]),
                             precision: gemm.precision, backend: gemm.backend)
        }
        norm1Weight = try t("norm1.weight", [w]).data; norm1Bias = try t("norm1.bias", [w]).data
        if reader.layout == .openCLIP {
            qkv = try linear("qkv", [3 * w, w])   // in_proj: already fused
        } else {
            // Hugging Face stores q, k, v apart: stacked as rows into one [3W, W] weight.
            let weight = try ["q", "k", "v"].flatMap { try t("\($0).weight", [w, w]).data }
            let bias = try ["q", "k", "v"].flatMap { try t("\($0).bias", [w]).data }
            qkv = LinearWeight(weight: Tensor(shape: [3 * w, w], data: weight), bias: Tensor(shape: [3 * w], data: bias),
                               precision: gemm.precision, backend: gemm.backend)
        }
        out = try linear("out", [w, w])
        norm2Weight = try t("norm2.weight", [w]).data; norm2Bias = try t("norm2.bias", [w]).data
        fc1 = try linear("fc1", [m, w])
        fc2 = try linear("fc2", [w, m])
        width = w
        mlpWidth = m
        heads = c.heads
        eps = c.layerNormEps
        activation = try Activation(configName: c.activation)
    }

    /// The block on `ws.x` ([B, T, W], updated in place), using `ws.h` and `ws.wide` as scratch.
    /// `causal` masks keys after each query (the text tower).
    func forward(_ ws: ForwardWorkspace, batch b: Int, tokens t: Int, causal: Bool, threads: Int) {
        let rows = b * t
        let (x, h, wide) = (ws.x, ws.h, ws.wide)
        projectQKV(ws, rows: rows, threads: threads)                                             // wide = qkv(ln1(x)) [R, 3W]
        attention(qkv: wide, batch: b, tokens: t, heads: heads, headDim: width / heads, causal: causal,
                  into: h, threads: threads)                                                     // h = attn       [R, W]
        out.apply(h, rows: rows, accumulate: true, into: x, threads: threads)                  // x += out(h)
        mlp(ws, rows: rows, threads: threads)                                                   // x += fc2(act(fc1(ln2(x))))
    }

    /// The block for the rows a tower pools only (its last block): row `positions[b]` of batch
    /// item b of `ws.x` ([B, T, W]) comes out in `ws.x` rows `0..<B` ([B, W]); the other rows are
    /// left undefined. Keys and values still come from all T tokens; the query, the out-projection
    /// and the MLP run on B rows instead of B*T (at ViT-B/32, 1 row of 50: the last block's cost
    /// falls by about four fifths). Same values as `forward` on those rows up to rounding at fp32 and
    /// bf16; at int8 the out-projection's and the MLP's activation scales come from these rows only.
    func forwardPooled(_ ws: ForwardWorkspace, batch b: Int, tokens t: Int, positions: [Int], causal: Bool, threads: Int) {
        let rows = b * t
        let (x, h, wide) = (ws.x, ws.h, ws.wide)
        projectQKV(ws, rows: rows, threads: threads)                                             // wide = qkv(ln1(x)) [R, 3W]
        attentionPooled(qkv: wide, batch: b, tokens: t, heads: heads, headDim: width / heads, positions: positions,
                        causal: causal, into: h, threads: threads)                             // h = attn rows  [B, W]
        for i in 0..<b { (x + i * width).update(from: x + (i * t + positions[i]) * width, count: width) }  // x = pooled [B, W]
        out.apply(h, rows: b, accumulate: true, into: x, threads: threads)                     // x += out(h)
        mlp(ws, rows: b, threads: threads)                                                      // x += fc2(act(fc1(ln2(x)))) [B, W]
    }

    /// wide[0..<rows, 0..<3W] = qkv(ln1(x)) over the first `rows` rows of `ws.x`; `ws.h` holds ln1(x).
    private func projectQKV(_ ws: ForwardWorkspace, rows: Int, threads: Int) {
        let (x, h, wide) = (ws.x, ws.h, ws.wide)
        norm1Weight.withUnsafeBufferPointer { g in norm1Bias.withUnsafeBufferPointer { be in
            layerNormRows(x, rows: rows, columns: width, weight: g.baseAddress!, bias: be.baseAddress!,
                          eps: eps, into: h, threads: threads)                                   // h = ln1(x)      [R, W]
        } }
        qkv.apply(h, rows: rows, into: wide, threads: threads)                                 // wide = qkv(h)  [R, 3W]
    }

    /// The MLP branch on the first `rows` rows of `ws.x`, residual included: x += fc2(act(fc1(ln2(x)))).
    private func mlp(_ ws: ForwardWorkspace, rows: Int, threads: Int) {
        let (x, h, wide) = (ws.x, ws.h, ws.wide)
        norm2Weight.withUnsafeBufferPointer { g in norm2Bias.withUnsafeBufferPointer { be in
            layerNormRows(x, rows: rows, columns: width, weight: g.baseAddress!, bias: be.baseAddress!,
                          eps: eps, into: h, threads: threads)                                   // h = ln2(x)      [R, W]
        } }
        fc1.apply(h, rows: rows, activation: activation, into: wide, threads: threads)         // wide = act(fc1) [R, M]
        fc2.apply(wide, rows: rows, accumulate: true, into: x, threads: threads)               // x += fc2(wide)
    }

    /// Floats of `ws.wide` per row this block needs.
    var wideColumns: Int { max(3 * width, mlpWidth) }
}
