/// Scaled dot-product attention over already-projected q, k, v.
///
/// query `[B,T,C]`, key and value `[B,S,C]` with C = heads * headDim. For each (batch, head):
/// scores = q kᵀ / sqrt(headDim) `[T,S]`; key j is masked for query i when `causal && j > i`
/// or when `j >= validLengths[b]`; softmax over keys; times v; heads merged back -> `[B,T,C]`.
/// A query row with every key masked comes out as zeros (never NaN).
///
/// Heads are read and written in place through leading dimensions, the batch x head tasks are
/// spread over cores, and keys past `validLengths[b]` are never computed. Runs on CKernels' direct
/// SIMD kernel up to `directAttentionMaxKeys` keys, on sgemm beyond (see `AttentionPath`).
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
    query.data.withUnsafeBufferPointer { qb in
        key.data.withUnsafeBufferPointer { kb in
            value.data.withUnsafeBufferPointer { vb in
                out.data.withUnsafeMutableBufferPointer { ob in
                    let operands = AttentionOperands(
                        q: qb.baseAddress!, k: kb.baseAddress!, v: vb.baseAddress!, out: ob.baseAddress!,
                        ldq: c, ldkv: c, ldo: c, batch: batch, t: t, s: s, heads: heads, d: d, causal: causal,
                        lengths: validLengths ?? [])
                    runAttention(operands, path: .automatic, threads: Kernels.threads)
                }
            }
        }
    }
    return out
}
