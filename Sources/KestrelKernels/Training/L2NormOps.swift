// Row L2 normalisation (CLIP's feature normalisation, x / ||x||), forward and backward:
//   y = x / n, n = ||x||;  dx += (dy - y (y·dy)) / n.

extension TrainOps {
    // MARK: L2 normalisation

    /// y = x / ||x|| per row; writes norm[rows] (torch's F.normalize with eps 1e-12 is not used:
    /// CLIP divides by the norm itself).
    public static func l2NormalizeForward(
        y: UnsafeMutablePointer<Float>, norm: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows: Int, dim: Int
    ) {
        guard dim > 0 else { return }
        let yp = TrainMut(y), np = TrainMut(norm), xp = TrainConst(x)
        trainRows(rows, workPerItem: 3 * dim) { range in
            for r in range {
                let xr = xp.p + r * dim, yr = yp.p + r * dim
                let n = simdSumSquares(xr, dim).squareRoot()
                np.p[r] = n
                let inv = 1 / n
                for i in 0..<dim { yr[i] = xr[i] * inv }
            }
        }
    }

    /// dx += (dy - y (y·dy)) / norm, per row.
    public static func l2NormalizeBackward(
        dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, y: UnsafePointer<Float>, norm: UnsafePointer<Float>,
        rows: Int, dim: Int
    ) {
        guard dim > 0 else { return }
        let dp = TrainMut(dx), gp = TrainConst(dy), yp = TrainConst(y), np = TrainConst(norm)
        trainRows(rows, workPerItem: 4 * dim) { range in
            for r in range {
                let g = gp.p + r * dim, yr = yp.p + r * dim, d = dp.p + r * dim
                var dot: Float = 0
                for i in 0..<dim { dot += yr[i] * g[i] }
                let inv = 1 / np.p[r]
                for i in 0..<dim { d[i] += (g[i] - yr[i] * dot) * inv }
            }
        }
    }
}
