import CBLAS

/// Scaled dot-product attention over already-projected q, k, v.
///
/// query `[B,T,C]`, key and value `[B,S,C]` with C = heads * headDim. For each (batch, head):
/// scores = q kᵀ / sqrt(headDim) `[T,S]`; key j is masked for query i when `causal && j > i`
/// or when `j >= validLengths[b]`; softmax over keys; times v; heads merged back -> `[B,T,C]`.
/// A query row with every key masked comes out as zeros (never NaN).
///
/// Heads are read and written in place through GEMM leading dimensions (no transposes), and the
/// batch x head products are spread over cores. Keys past `validLengths[b]` are never computed.
public func attention(
    query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool, validLengths: [Int]? = nil
) -> Tensor {
    precondition(query.rank == 3 && key.rank == 3 && value.rank == 3,
                 "attention: q, k, v must be [B,T,C], got \(query.shape), \(key.shape), \(value.shape)")
    precondition(key.shape == value.shape, "attention: key \(key.shape) vs value \(value.shape)")
    let batch = query.shape[0], t = query.shape[1], c = query.shape[2], s = key.shape[1]
    precondition(key.shape[0] == batch && key.shape[2] == c, "attention: query \(query.shape) vs key \(key.shape)")
    precondition(heads > 0 && c % heads == 0, "attention: \(c) channels do not split into \(heads) heads")
    if let validLengths {
        precondition(validLengths.count == batch, "attention: \(validLengths.count) valid lengths for batch \(batch)")
    }
    let d = c / heads
    var out = Tensor(shape: [batch, t, c])
    guard batch > 0, t > 0, s > 0, d > 0 else { return out }
    let alpha = 1 / Float(d).squareRoot()
    let lengths = validLengths ?? []

    query.data.withUnsafeBufferPointer { qb in
        key.data.withUnsafeBufferPointer { kb in
            value.data.withUnsafeBufferPointer { vb in
                out.data.withUnsafeMutableBufferPointer { ob in
                    let q = SharedConstPointer(qb.baseAddress!), k = SharedConstPointer(kb.baseAddress!)
                    let v = SharedConstPointer(vb.baseAddress!), o = SharedPointer(ob.baseAddress!)
                    parallelRanges(batch * heads, workPerItem: 4 * t * s * d, callsBLAS: true) { tasks in
                        let scores = UnsafeMutablePointer<Float>.allocate(capacity: t * s)
                        defer { scores.deallocate() }
                        for task in tasks {
                            let b = task / heads, h = task % heads
                            let keys = lengths.isEmpty ? s : min(s, max(0, lengths[b]))
                            guard keys > 0 else { continue }  // every key masked: output stays zero
                            let qp = q.base + b * t * c + h * d
                            let kp = k.base + b * s * c + h * d
                            let vp = v.base + b * s * c + h * d
                            // scores[T, keys] = q[T, d] k[keys, d]^T / sqrt(d)
                            sgemm(m: t, n: keys, k: d, alpha: alpha, a: qp, lda: c, b: kp, ldb: c, transB: true,
                                  c: scores, ldc: keys)
                            for i in 0..<t {
                                let row = scores + i * keys
                                let visible = causal ? min(keys, i + 1) : keys
                                softmaxRow(row, visible)
                                if visible < keys { (row + visible).update(repeating: 0, count: keys - visible) }
                            }
                            // out[T, d] = probs[T, keys] v[keys, d], written into this head's columns.
                            sgemm(m: t, n: d, k: keys, a: scores, lda: keys, b: vp, ldb: c, transB: false,
                                  c: o.base + b * t * c + h * d, ldc: c)
                        }
                    }
                }
            }
        }
    }
    return out
}
