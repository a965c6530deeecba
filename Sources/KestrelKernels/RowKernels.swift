// Pointer-level kernels the model forward runs on its reused buffers (no allocation per call).
// Each has a naive twin in `NaiveKernels` that tests compare it against.

/// y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * weight + bias for r < rows (biased variance,
/// PyTorch's `nn.LayerNorm`). `x` and `y` may be the same buffer.
public func layerNormRows(
    _ x: UnsafePointer<Float>, rows: Int, columns c: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    eps: Float, into y: UnsafeMutablePointer<Float>, threads: Int = Kernels.threads
) {
    guard rows > 0, c > 0 else { return }
    let src = SharedConstPointer(x), dst = SharedPointer(y)
    let w = SharedConstPointer(weight), b = SharedConstPointer(bias)
    parallelRanges(rows, workPerItem: 4 * c) { r in
        for row in r {
            let s = src.base + row * c, d = dst.base + row * c
            let mean = simdSum(s, c) / Float(c)
            let variance = simdSumSquares(s, c, shift: mean) / Float(c)
            let inv = 1 / (variance + eps).squareRoot()
            for j in 0..<c { d[j] = (s[j] - mean) * inv * w.base[j] + b.base[j] }
        }
    }
}

/// Applies `activation` to `count` values in place.
public func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ activation: Activation, threads: Int = Kernels.threads) {
    guard count > 0 else { return }
    let p = SharedPointer(x)
    parallelRanges(count, workPerItem: 8) { r in
        let q = p.base + r.lowerBound, n = r.count
        switch activation {
        case .gelu: mapInPlace(q, n) { v in 0.5 * v * (1 + verf(v * 0.70710678118654752)) }
        case .quickGelu: mapInPlace(q, n) { v in v / (1 + vexp(-1.702 * v)) }
        case .geluTanh: mapInPlace(q, n) { v in v / (1 + vexp(-1.5957691216057308 * (v + 0.044715 * v * v * v))) }
        }
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
    guard batch > 0, t > 0, heads > 0, d > 0 else { return }
    let c = heads * d
    let alpha = 1 / Float(d).squareRoot()
    let lengths = validLengths ?? []
    let q = SharedConstPointer(qkv), o = SharedPointer(out)
    parallelRanges(batch * heads, workPerItem: 4 * t * t * d, callsBLAS: true) { tasks in
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: t * t)
        defer { scores.deallocate() }
        for task in tasks {
            let b = task / heads, h = task % heads
            let keys = lengths.isEmpty ? t : min(t, max(0, lengths[b]))
            let op = o.base + b * t * c + h * d
            guard keys > 0 else {
                for i in 0..<t { (op + i * c).update(repeating: 0, count: d) }
                continue
            }
            let qp = q.base + b * t * 3 * c + h * d
            let kp = qp + c, vp = qp + 2 * c
            sgemm(m: t, n: keys, k: d, alpha: alpha, a: qp, lda: 3 * c, b: kp, ldb: 3 * c, transB: true,
                  c: scores, ldc: keys)
            for i in 0..<t {
                let row = scores + i * keys
                let visible = causal ? min(keys, i + 1) : keys
                softmaxRow(row, visible)
                if visible < keys { (row + visible).update(repeating: 0, count: keys - visible) }
            }
            sgemm(m: t, n: d, k: keys, a: scores, lda: keys, b: vp, ldb: 3 * c, transB: false, c: op, ldc: c)
        }
    }
}
