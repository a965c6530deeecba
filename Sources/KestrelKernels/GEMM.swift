import CBLAS
import Dispatch

// Matrix products on OpenBLAS's sgemm. All row-major; PyTorch layouts.

/// C[M,N] = alpha * A[M,K] * op(B) (+ beta * C), row-major with explicit leading dimensions.
/// `transB`: B is stored `[N,K]`. Does nothing when a dimension is zero (OpenBLAS rejects ld = 0).
@inline(__always)
func sgemm(
    m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, transB: Bool,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
        // A product over an empty dimension is zero.
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
        return
    }
    cblas_sgemm(
        CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// y[..., out] = x[..., in] * weight[out, in]^T + bias[out].
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    precondition(weight.rank == 2, "linear: weight must be [out, in], got \(weight.shape)")
    let outDim = weight.shape[0], inDim = weight.shape[1]
    precondition(x.rank >= 1 && x.lastDim == inDim, "linear: input last dimension \(x.lastDim) vs weight in \(inDim)")
    if let bias { precondition(bias.count == outDim, "linear: bias has \(bias.count) values, weight out is \(outDim)") }
    let rows = x.shape.dropLast().reduce(1, *)
    var shape = x.shape
    shape[shape.count - 1] = outDim
    var y = Tensor(shape: shape)
    guard rows > 0, outDim > 0 else { return y }
    if rows <= skinnyRowLimit && inDim > 0 {
        y.data.withUnsafeMutableBufferPointer { yb in
            x.data.withUnsafeBufferPointer { xb in
                weight.data.withUnsafeBufferPointer { wb in
                    if let bias {
                        bias.data.withUnsafeBufferPointer { bb in
                            skinnyGEMM(x: xb.baseAddress!, rows: rows, k: inDim, w: wb.baseAddress!, n: outDim,
                                       bias: bb.baseAddress!, y: yb.baseAddress!)
                        }
                    } else {
                        skinnyGEMM(x: xb.baseAddress!, rows: rows, k: inDim, w: wb.baseAddress!, n: outDim,
                                   bias: nil, y: yb.baseAddress!)
                    }
                }
            }
        }
        return y
    }
    y.data.withUnsafeMutableBufferPointer { yb in
        let yp = yb.baseAddress!
        var beta: Float = 0
        if let bias {
            bias.data.withUnsafeBufferPointer { bb in
                for r in 0..<rows { (yp + r * outDim).update(from: bb.baseAddress!, count: outDim) }
            }
            beta = 1
        }
        x.data.withUnsafeBufferPointer { xb in
            weight.data.withUnsafeBufferPointer { wb in
                guard let xp = xb.baseAddress, let wp = wb.baseAddress else { return }
                sgemm(m: rows, n: outDim, k: inDim, a: xp, lda: inDim, b: wp, ldb: inDim, transB: true,
                      beta: beta, c: yp, ldc: outDim)
            }
        }
    }
    return y
}

/// a[M,K] * b[K,N] (or b[N,K]^T when `transposeB`) -> [M,N].
public func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false) -> Tensor {
    precondition(a.rank == 2 && b.rank == 2, "matmul: needs 2-D tensors, got \(a.shape) and \(b.shape)")
    let m = a.shape[0], k = a.shape[1]
    let kb = transposeB ? b.shape[1] : b.shape[0], n = transposeB ? b.shape[0] : b.shape[1]
    precondition(k == kb, "matmul: inner dimensions \(k) vs \(kb) (a \(a.shape), b \(b.shape), transposeB \(transposeB))")
    var c = Tensor(shape: [m, n])
    guard m > 0, n > 0 else { return c }
    a.data.withUnsafeBufferPointer { ab in
        b.data.withUnsafeBufferPointer { bb in
            c.data.withUnsafeMutableBufferPointer { cb in
                guard let ap = ab.baseAddress, let bp = bb.baseAddress else { return }
                sgemm(m: m, n: n, k: k, a: ap, lda: k, b: bp, ldb: transposeB ? k : n, transB: transposeB,
                      c: cb.baseAddress!, ldc: n)
            }
        }
    }
    return c
}

/// Per-batch products: a[B,M,K] * b[B,K,N] (or b[B,N,K]^T) -> [B,M,N].
/// Small per-batch products (which OpenBLAS runs single-threaded) are spread over cores by batch.
public func batchedMatmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false) -> Tensor {
    precondition(a.rank == 3 && b.rank == 3, "batchedMatmul: needs 3-D tensors, got \(a.shape) and \(b.shape)")
    precondition(a.shape[0] == b.shape[0], "batchedMatmul: batch \(a.shape[0]) vs \(b.shape[0])")
    let batch = a.shape[0], m = a.shape[1], k = a.shape[2]
    let kb = transposeB ? b.shape[2] : b.shape[1], n = transposeB ? b.shape[1] : b.shape[2]
    precondition(k == kb, "batchedMatmul: inner dimensions \(k) vs \(kb) (a \(a.shape), b \(b.shape), transposeB \(transposeB))")
    var c = Tensor(shape: [batch, m, n])
    guard batch > 0, m > 0, n > 0 else { return c }
    let flops = 2 * m * n * k
    a.data.withUnsafeBufferPointer { ab in
        b.data.withUnsafeBufferPointer { bb in
            c.data.withUnsafeMutableBufferPointer { cb in
                guard let ap0 = ab.baseAddress, let bp0 = bb.baseAddress else { return }
                let ap = SharedConstPointer(ap0), bp = SharedConstPointer(bp0), cp = SharedPointer(cb.baseAddress!)
                let body: @Sendable (Range<Int>) -> Void = { r in
                    for i in r {
                        sgemm(m: m, n: n, k: k, a: ap.base + i * m * k, lda: k, b: bp.base + i * k * n,
                              ldb: transposeB ? k : n, transB: transposeB, c: cp.base + i * m * n, ldc: n)
                    }
                }
                // Large products are threaded inside OpenBLAS already; split small ones by batch.
                if flops >= largeGEMMWork { body(0..<batch) } else { parallelRanges(batch, workPerItem: flops, callsBLAS: true, body) }
            }
        }
    }
    return c
}

/// Products at least this big (2*M*N*K) are left to OpenBLAS's own threading.
let largeGEMMWork = 1 << 21
