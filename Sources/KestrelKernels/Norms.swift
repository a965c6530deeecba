// Row-wise kernels over the last dimension: LayerNorm, softmax, L2 normalisation. Tensor-level
// wrappers over the pointer-level kernels in RowKernels.swift (CKernels); `softmaxRow` is the
// Swift SIMD softmax the benchmark baseline (`SwiftSIMDKernels`) keeps.

/// LayerNorm over the last dimension with biased variance (PyTorch's `nn.LayerNorm`):
/// y = (x - mean) / sqrt(var + eps) * weight + bias.
public func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float) -> Tensor {
    let c = x.lastDim
    precondition(weight.count == c, "layerNorm: weight has \(weight.count) values, last dimension is \(c)")
    precondition(bias.count == c, "layerNorm: bias has \(bias.count) values, last dimension is \(c)")
    let rows = x.rows
    var out = Tensor(shape: x.shape)
    guard c > 0, rows > 0 else { return out }
    x.data.withUnsafeBufferPointer { xb in
        weight.data.withUnsafeBufferPointer { wb in
            bias.data.withUnsafeBufferPointer { bb in
                out.data.withUnsafeMutableBufferPointer { ob in
                    layerNormRows(xb.baseAddress!, rows: rows, columns: c, weight: wb.baseAddress!,
                                  bias: bb.baseAddress!, eps: eps, into: ob.baseAddress!)
                }
            }
        }
    }
    return out
}

/// Numerically stable softmax over the last dimension, in place. `-infinity` entries become 0;
/// a row that is entirely `-infinity` becomes all zeros (not NaN).
public func softmax(_ x: inout Tensor) {
    let c = x.lastDim
    let rows = x.rows
    guard c > 0, rows > 0 else { return }
    x.data.withUnsafeMutableBufferPointer { xb in
        softmaxRows(xb.baseAddress!, rows: rows, columns: c)
    }
}

/// Softmax of one row of `n` values in place (Swift SIMD; the benchmark baseline).
@inline(__always)
func softmaxRow(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
    let m = simdMax(p, n)
    if m == -.infinity {
        p.update(repeating: 0, count: n)
        return
    }
    // e^(x - max), 16 lanes at a time; the tail is padded with -infinity (e^-inf = 0).
    let raw = UnsafeMutableRawPointer(p)
    let shift = SIMD16<Float>(repeating: m)
    var acc = SIMD16<Float>()
    var j = 0
    while j + 16 <= n {
        let e = vexp(raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self) - shift)
        raw.storeBytes(of: e, toByteOffset: j * 4, as: SIMD16<Float>.self)
        acc += e
        j += 16
    }
    if j < n {
        var v = SIMD16<Float>(repeating: -.infinity)
        for l in 0..<(n - j) { v[l] = p[j + l] }
        let e = vexp(v - shift)
        for l in 0..<(n - j) { p[j + l] = e[l] }
        acc += e
    }
    let sum = acc.sum()
    let inv = 1 / sum
    for j in 0..<n { p[j] *= inv }
}

/// Divides each row (last dimension) by its Euclidean norm, like `F.normalize` (norm clamped
/// at 1e-12, so a zero row stays zero).
public func l2Normalize(_ x: inout Tensor) {
    let c = x.lastDim
    let rows = x.rows
    guard c > 0, rows > 0 else { return }
    x.data.withUnsafeMutableBufferPointer { xb in
        l2NormalizeRows(xb.baseAddress!, rows: rows, columns: c)
    }
}
