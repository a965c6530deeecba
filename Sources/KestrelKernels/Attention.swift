// Multi-head scaled dot-product attention on OpenBLAS, one task per (batch, head).

/// Multi-head attention over already-projected `query`, `key`, `value`, each `[B, T, C]` with
/// `C = heads * headDim`. Per (batch b, head h), with q, k, v the `[T, headDim]` slices:
///
///     scores = q k^T / sqrt(headDim)          # [T, T]
///     mask:  key j > query i        (causal)
///            key j >= validLengths[b] (padding)
///     out    = softmax(scores) v               # [T, headDim], merged back into [B, T, C]
///
/// Masked keys get probability exactly 0. A query with no unmasked key (only possible when
/// `validLengths[b] == 0`) gets a zero output, never NaN. Query rows past `validLengths[b]` are
/// computed as usual (they attend to the valid keys), as PyTorch's key-padding mask does.
///
/// Heads are never copied out: the GEMMs read the strided head slices in place (leading
/// dimension C), and padded keys are dropped from both products, not just masked.
public func attention(
    query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool, validLengths: [Int]? = nil
) -> Tensor {
    precondition(query.rank == 3, "attention: query must be [B, T, C], got \(query.shape)")
    precondition(key.shape == query.shape, "attention: key \(key.shape) vs query \(query.shape)")
    precondition(value.shape == query.shape, "attention: value \(value.shape) vs query \(query.shape)")
    let batch = query.shape[0], t = query.shape[1], c = query.shape[2]
    precondition(heads >= 1 && c % heads == 0, "attention: \(c) channels do not split into \(heads) heads")
    if let validLengths {
        precondition(validLengths.count == batch, "attention: \(validLengths.count) valid lengths for batch \(batch)")
        for (b, n) in validLengths.enumerated() {
            precondition(n >= 0 && n <= t, "attention: validLengths[\(b)] = \(n) is outside 0...\(t)")
        }
    }
    let d = c / heads
    var out = Tensor(shape: [batch, t, c])
    guard batch > 0, t > 0, d > 0 else { return out }
    let alpha = 1 / Float(d).squareRoot()
    let lengths = validLengths ?? [Int](repeating: t, count: batch)
    let tasks = batch * heads

    query.data.withUnsafeBufferPointer { qb in
        key.data.withUnsafeBufferPointer { kb in
            value.data.withUnsafeBufferPointer { vb in
                out.data.withUnsafeMutableBufferPointer { ob in
                    let q = SharedConstPointer(qb.baseAddress!), k = SharedConstPointer(kb.baseAddress!)
                    let v = SharedConstPointer(vb.baseAddress!), o = SharedPointer(ob.baseAddress!)
                    // Two GEMMs of 2*T*T*d plus the softmax.
                    parallelRanges(tasks, workPerItem: 4 * t * t * d + 12 * t * t) { range in
                        let scores = UnsafeMutablePointer<Float>.allocate(capacity: t * t)
                        defer { scores.deallocate() }
                        for task in range {
                            let b = task / heads, h = task % heads
                            let keys = lengths[b]
                            guard keys > 0 else { continue }  // output stays zero
                            let offset = b * t * c + h * d
                            // scores[T, keys] = q[T, d] * k[keys, d]^T / sqrt(d)
                            sgemm(m: t, n: keys, k: d, alpha: alpha, a: q.base + offset, lda: c,
                                  b: k.base + offset, ldb: c, transB: true, c: scores, ldc: keys)
                            for i in 0..<t {
                                let row = scores + i * keys
                                let visible = causal ? min(i + 1, keys) : keys
                                softmaxRow(row, visible)
                                if visible < keys { (row + visible).update(repeating: 0, count: keys - visible) }
                            }
                            // out[T, d] = scores[T, keys] * v[keys, d]
                            sgemm(m: t, n: d, k: keys, a: scores, lda: keys, b: v.base + offset, ldb: c,
                                  transB: false, c: o.base + offset, ldc: c)
                        }
                    }
                }
            }
        }
    }
    return out
}
