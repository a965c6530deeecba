// The reference GEMM backend: fp32 weights kept as given ([out, in], row-major), products on
// OpenBLAS's sgemm, or on the skinny kernel for few rows. Bias, activation and accumulation are
// applied after the product.

final class OpenBLASPacked: PackedWeight, @unchecked Sendable {
    let precision = Precision.fp32
    let out: Int
    let `in`: Int
    let data: UnsafeMutablePointer<Float>
    var bytes: Int { out * `in` * 4 }

    init(copying w: UnsafePointer<Float>, out: Int, in k: Int) {
        self.out = out
        self.in = k
        data = .allocate(capacity: max(1, out * k))
        data.update(from: w, count: out * k)
    }

    deinit { data.deallocate() }
}

final class OpenBLASBackend: GEMMBackend, @unchecked Sendable {
    let name = "openblas"

    func supports(_ precision: Precision) -> Bool { precision == .fp32 }

    func pack(weight: UnsafePointer<Float>, out: Int, in: Int, precision: Precision) -> PackedWeight {
        precondition(precision == .fp32, "openblas backend packs fp32 only")
        return OpenBLASPacked(copying: weight, out: out, in: `in`)
    }

    func linear(
        _ x: UnsafePointer<Float>, rows: Int, weight: PackedWeight, bias: UnsafePointer<Float>?,
        activation: Activation?, accumulate: Bool, into y: UnsafeMutablePointer<Float>, threads: Int
    ) {
        let w = weight as! OpenBLASPacked
        let n = w.out, k = w.in
        guard rows > 0, n > 0 else { return }
        if k == 0 || rows > skinnyRowLimit || accumulate {
            if let bias, !accumulate {
                for r in 0..<rows { (y + r * n).update(from: bias, count: n) }
            } else if let bias {
                for r in 0..<rows { for j in 0..<n { y[r * n + j] += bias[j] } }
            }
            let beta: Float = (bias != nil || accumulate) ? 1 : 0
            sgemm(m: rows, n: n, k: k, a: x, lda: k, b: w.data, ldb: k, transB: true, beta: beta, c: y, ldc: n)
        } else {
            skinnyGEMM(x: x, rows: rows, k: k, w: w.data, n: n, bias: bias, y: y)
        }
        if let activation { activate(y, count: rows * n, activation, threads: threads) }
    }
}
