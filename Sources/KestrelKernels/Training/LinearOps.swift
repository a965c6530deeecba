// Linear layers on OpenBLAS sgemm: y = x W^T + b; dx += dy W; dW += dy^T x; db += Σ_rows dy.

extension TrainOps {
    // MARK: Linear / GEMM

    /// y[rows, outDim] = x[rows, inDim] · weight[outDim, inDim]^T (+ bias[outDim]).
    public static func linearForward(
        y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, rows: Int, inDim: Int, outDim: Int
    ) {
        guard rows > 0, outDim > 0 else { return }
        if let bias {
            for r in 0..<rows { (y + r * outDim).update(from: bias, count: outDim) }
        }
        trainGEMM(m: rows, n: outDim, k: inDim, a: x, lda: inDim, transA: false,
                  b: weight, ldb: inDim, transB: true, beta: bias == nil ? 0 : 1, c: y, ldc: outDim)
    }

    /// dx += dy · weight;  dWeight += dy^T · x;  dBias += Σ_rows dy.
    public static func linearBackward(
        dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rows: Int, inDim: Int, outDim: Int
    ) {
        guard rows > 0 else { return }
        if let dx {
            // dx[rows, in] += dy[rows, out] · W[out, in]
            trainGEMM(m: rows, n: inDim, k: outDim, a: dy, lda: outDim, transA: false,
                      b: weight, ldb: inDim, transB: false, beta: 1, c: dx, ldc: inDim)
        }
        if let dWeight {
            // dW[out, in] += dy^T[out, rows] · x[rows, in]
            trainGEMM(m: outDim, n: inDim, k: rows, a: dy, lda: outDim, transA: true,
                      b: x, ldb: inDim, transB: false, beta: 1, c: dWeight, ldc: inDim)
        }
        if let dBias { columnSums(into: dBias, dy, rows: rows, columns: outDim) }
    }

    /// out[columns] += Σ_r m[r, columns], split over column blocks when large.
    static func columnSums(into out: UnsafeMutablePointer<Float>, _ m: UnsafePointer<Float>, rows: Int, columns: Int) {
        let block = 256
        let blocks = (columns + block - 1) / block
        let o = TrainMut(out), src = TrainConst(m)
        trainRows(blocks, workPerItem: rows * block) { range in
            for bi in range {
                let c0 = bi * block, c1 = min(columns, c0 + block), n = c1 - c0
                let acc = UnsafeMutablePointer<Float>.allocate(capacity: n)
                defer { acc.deallocate() }
                acc.initialize(repeating: 0, count: n)
                for r in 0..<rows {
                    let row = src.p + r * columns + c0
                    for j in 0..<n { acc[j] += row[j] }
                }
                for j in 0..<n { o.p[c0 + j] += acc[j] }
            }
        }
    }
}
