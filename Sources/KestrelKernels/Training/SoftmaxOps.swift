import CKernels

// Row softmax, forward (max-subtracted, on CKernels' vectorised row softmax) and backward:
// dx += y ⊙ (dy - Σ_j dy_j y_j).

extension TrainOps {
    // MARK: Softmax (rows)

    /// y = softmax(x) per row of `columns`.
    public static func softmaxForward(
        y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows: Int, columns: Int
    ) {
        guard columns > 0 else { return }
        let yp = TrainMut(y), xp = TrainConst(x)
        trainRows(rows, workPerItem: 8 * columns) { range in
            let n = range.count * columns, first = range.lowerBound * columns
            (yp.p + first).update(from: xp.p + first, count: n)
            ck_softmax_rows(yp.p, range.lowerBound, range.upperBound, columns)
        }
    }

    /// dx += y ⊙ (dy - Σ_j dy_j y_j), per row.
    public static func softmaxBackward(
        dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, y: UnsafePointer<Float>, rows: Int, columns: Int
    ) {
        guard columns > 0 else { return }
        let dp = TrainMut(dx), gp = TrainConst(dy), yp = TrainConst(y)
        trainRows(rows, workPerItem: 4 * columns) { range in
            for r in range {
                softmaxBackwardRow(dp.p + r * columns, gp.p + r * columns, yp.p + r * columns, columns)
            }
        }
    }

    /// y[n] = softmax(x[n]) (y may equal x).
    @inline(__always)
    static func softmaxRow(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
        if UnsafePointer(y) != x { y.update(from: x, count: n) }
        ck_softmax_rows(y, 0, 1, n)
    }

    /// dx[n] += y ⊙ (dy - dy·y).
    @inline(__always)
    static func softmaxBackwardRow(
        _ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int
    ) {
        var dot: Float = 0
        for j in 0..<n { dot += dy[j] * y[j] }
        for j in 0..<n { dx[j] += y[j] * (dy[j] - dot) }
    }
}
