// Element-wise helpers for residual connections and gradient bookkeeping (added API, not in the
// skeleton): y = a + b (a residual's forward) and dst += src (its backward, into both branches).

extension TrainOps {
    // MARK: Element-wise

    /// y[count] = a[count] + b[count] (y may be a or b).
    public static func add(
        y: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, count: Int
    ) {
        let yp = TrainMut(y), ap = TrainConst(a), bp = TrainConst(b)
        trainRows(count, workPerItem: 1) { r in
            for i in r { yp.p[i] = ap.p[i] + bp.p[i] }
        }
    }

    /// dst[count] += src[count].
    public static func accumulate(into dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int) {
        let dp = TrainMut(dst), sp = TrainConst(src)
        trainRows(count, workPerItem: 1) { r in
            for i in r { dp.p[i] += sp.p[i] }
        }
    }
}

extension NaiveTrainOps {
    /// y = a + b.
    public static func add(
        y: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, count: Int
    ) {
        for i in 0..<count { y[i] = a[i] + b[i] }
    }

    /// dst += src.
    public static func accumulate(into dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { dst[i] += src[i] }
    }
}
