// y[M, N] = x[M, K] * w[N, K]^T (+ bias) for few rows M: a text query (M = its token count) or
// a single small batch. With so few rows the product is bound by reading the weights, and
// OpenBLAS's sgemm spends most of its time packing them (sgemm_incopy) on every call. This kernel
// streams each weight row once, reusing it from L1 for all M input rows, and splits the output
// columns over cores. Twin: `NaiveKernels.linear`.

/// Rows at or below which `linear` uses the skinny kernel (measured: `kestrel-bench kernels`).
let skinnyRowLimit = 8

@inline(__always)
private func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

/// y[m, j] = bias[j] + sum_k x[m, k] w[j, k] for m < rows, j < n. `bias` may be nil.
func skinnyGEMM(
    x: UnsafePointer<Float>, rows: Int, k: Int, w: UnsafePointer<Float>, n: Int,
    bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>
) {
    let xs = SharedConstPointer(x), ws = SharedConstPointer(w), ys = SharedPointer(y)
    let bs = bias.map(SharedConstPointer.init)
    // Work per output column: one weight row read, `rows` dot products.
    parallelRanges(n, workPerItem: 2 * rows * k) { columns in
        let x = xs.base, w = ws.base, y = ys.base
        let k16 = k & ~15
        var j = columns.lowerBound
        // Four weight rows at a time: each x load feeds four FMAs.
        while j + 4 <= columns.upperBound {
            let w0 = w + j * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k
            for m in 0..<rows {
                let xm = x + m * k
                var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
                var i = 0
                while i < k16 {
                    let xv = load16(xm + i)
                    a0.addProduct(xv, load16(w0 + i))
                    a1.addProduct(xv, load16(w1 + i))
                    a2.addProduct(xv, load16(w2 + i))
                    a3.addProduct(xv, load16(w3 + i))
                    i += 16
                }
                var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
                while i < k {
                    let xv = xm[i]
                    s0 += xv * w0[i]; s1 += xv * w1[i]; s2 += xv * w2[i]; s3 += xv * w3[i]
                    i += 1
                }
                let out = y + m * n + j
                if let b = bs?.base {
                    out[0] = s0 + b[j]; out[1] = s1 + b[j + 1]; out[2] = s2 + b[j + 2]; out[3] = s3 + b[j + 3]
                } else {
                    out[0] = s0; out[1] = s1; out[2] = s2; out[3] = s3
                }
            }
            j += 4
        }
        while j < columns.upperBound {
            let wj = w + j * k
            for m in 0..<rows {
                let xm = x + m * k
                var a = SIMD16<Float>()
                var i = 0
                while i < k16 { a.addProduct(load16(xm + i), load16(wj + i)); i += 16 }
                var s = a.sum()
                while i < k { s += xm[i] * wj[i]; i += 1 }
                y[m * n + j] = s + (bs?.base[j] ?? 0)
            }
            j += 1
        }
    }
}

extension SIMD16 where Scalar == Float {
    /// self += a * b as a multiply and an add: `addingProduct` becomes a scalar libm `fmaf` call
    /// per lane on the baseline x86-64 target (no FMA), 50x slower.
    @inline(__always)
    mutating func addProduct(_ a: SIMD16<Float>, _ b: SIMD16<Float>) {
        self += a * b
    }
}
