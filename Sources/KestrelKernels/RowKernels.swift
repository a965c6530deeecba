import CKernels

// Pointer-level kernels the model forward runs on its reused buffers (no allocation per call).
// The work runs in CKernels (AVX-512, AVX2+FMA or portable C, chosen at run time: see
// `ElementwiseKernels`), split over at most `threads` threads. Each has a naive twin in
// `NaiveKernels` that tests compare it against, at every level the processor has.

/// y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * weight + bias for r < rows (biased variance,
/// PyTorch's `nn.LayerNorm`). `x` and `y` may be the same buffer. x, y: `[rows, c]`; weight, bias: `[c]`.
public func layerNormRows(
    _ x: UnsafePointer<Float>, rows: Int, columns c: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    eps: Float, into y: UnsafeMutablePointer<Float>, threads: Int = Kernels.threads
) {
    guard rows > 0, c > 0 else { return }
    let src = SharedConstPointer(x), dst = SharedPointer(y)
    let w = SharedConstPointer(weight), b = SharedConstPointer(bias)
    parallelRanges(rows, workPerItem: 4 * c, threads: threads) { r in
        ck_layernorm_rows(src.base, dst.base, r.lowerBound, r.upperBound, c, w.base, b.base, eps)
    }
}

/// Applies `activation` to `count` values in place.
public func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ activation: Activation, threads: Int = Kernels.threads) {
    guard count > 0 else { return }
    let p = SharedPointer(x)
    parallelRanges(count, workPerItem: 8, threads: threads) { r in
        let q = p.base + r.lowerBound, n = r.count
        switch activation {
        case .gelu: ck_gelu(q, n)
        case .quickGelu: ck_quick_gelu(q, n)
        case .geluTanh: ck_gelu_tanh(q, n)
        }
    }
}

/// Softmax of each row of x `[rows, c]` in place; `-infinity` entries become 0, an all
/// `-infinity` row becomes zeros.
public func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns c: Int, threads: Int = Kernels.threads) {
    guard rows > 0, c > 0 else { return }
    let p = SharedPointer(x)
    parallelRanges(rows, workPerItem: 12 * c, threads: threads) { r in
        ck_softmax_rows(p.base, r.lowerBound, r.upperBound, c)
    }
}

/// Divides each row of x `[rows, c]` by its Euclidean norm clamped at 1e-12 (`F.normalize`), in place.
public func l2NormalizeRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns c: Int, threads: Int = Kernels.threads) {
    guard rows > 0, c > 0 else { return }
    let p = SharedPointer(x)
    parallelRanges(rows, workPerItem: 3 * c, threads: threads) { r in
        ck_l2_normalize_rows(p.base, r.lowerBound, r.upperBound, c)
    }
}

/// x[i] += y[i] for i < count (a residual connection), in place.
public func addInPlace(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int, threads: Int = Kernels.threads) {
    guard count > 0 else { return }
    let p = SharedPointer(x), q = SharedConstPointer(y)
    parallelRanges(count, workPerItem: 1, threads: threads) { r in
        ck_add(p.base + r.lowerBound, q.base + r.lowerBound, r.count)
    }
}

/// Multi-head scaled dot-product attention over a fused projection.
///
/// qkv: `[B, T, 3C]` with q in columns `0..<C`, k in `C..<2C`, v in `2C..<3C` (C = heads * headDim);
/// out: `[B, T, C]`. Key j is masked for query i when `causal && j > i` or `j >= validLengths[b]`;
/// a query with every key masked comes out as zeros. Follows `attention(query:key:value:...)`.
public func attention(
    qkv: UnsafePointer<Float>, batch: Int, tokens t: Int, heads: Int, headDim d: Int, causal: Bool,
    validLengths: [Int]? = nil, into out: UnsafeMutablePointer<Float>, threads: Int = Kernels.threads
) {
    attention(qkv: qkv, batch: batch, tokens: t, heads: heads, headDim: d, causal: causal,
              validLengths: validLengths, into: out, path: .automatic, threads: threads)
}

/// `attention(qkv:...)` on a chosen implementation (benchmarks, tests).
public func attention(
    qkv: UnsafePointer<Float>, batch: Int, tokens t: Int, heads: Int, headDim d: Int, causal: Bool,
    validLengths: [Int]? = nil, into out: UnsafeMutablePointer<Float>, path: AttentionPath, threads: Int = Kernels.threads
) {
    guard batch > 0, t > 0, heads > 0, d > 0 else { return }
    if let validLengths {
        precondition(validLengths.count == batch, "attention: \(validLengths.count) valid lengths for batch \(batch)")
    }
    let c = heads * d
    let operands = AttentionOperands(
        q: qkv, k: qkv + c, v: qkv + 2 * c, out: out, ldq: 3 * c, ldkv: 3 * c, ldo: c,
        batch: batch, t: t, s: t, heads: heads, d: d, causal: causal, lengths: validLengths ?? [])
    runAttention(operands, path: path, threads: threads)
}

/// Attention for one query row per batch item, over a fused projection: the rows a tower pools
/// (the class token of the ViT, the end token of the text tower) when nothing else is needed.
///
/// qkv: `[B, T, 3C]` as in `attention(qkv:...)`; positions[b]: the query's token in batch item b;
/// out: `[B, C]`. Keys are all T tokens, or with `causal` tokens `0...positions[b]` — exactly the
/// row `positions[b]` of `attention(qkv:...)`'s output.
public func attentionPooled(
    qkv: UnsafePointer<Float>, batch: Int, tokens t: Int, heads: Int, headDim d: Int, positions: [Int],
    causal: Bool, into out: UnsafeMutablePointer<Float>, threads: Int = Kernels.threads
) {
    guard batch > 0, t > 0, heads > 0, d > 0 else { return }
    precondition(positions.count == batch && positions.allSatisfy { (0..<t).contains($0) },
                 "attentionPooled: need one position in 0..<\(t) per batch item, got \(positions)")
    let c = heads * d
    // Queries gathered as [B, C]; keys and values read in place.
    let queries = UnsafeMutablePointer<Float>.allocate(capacity: batch * c)
    defer { queries.deallocate() }
    for b in 0..<batch { (queries + b * c).update(from: qkv + (b * t + positions[b]) * 3 * c, count: c) }
    let operands = AttentionOperands(
        q: queries, k: qkv + c, v: qkv + 2 * c, out: out, ldq: c, ldkv: 3 * c, ldo: c,
        batch: batch, t: 1, s: t, heads: heads, d: d, causal: false,
        lengths: causal ? positions.map { $0 + 1 } : [])
    runAttention(operands, path: .automatic, threads: threads)
}
