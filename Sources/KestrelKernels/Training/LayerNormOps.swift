// LayerNorm over the last dimension (biased variance, as torch.nn.LayerNorm), forward and backward.
// Backward (per row, x̂ = (x - mean)·rstd, g = dy ⊙ weight):
//   dx += rstd · (g - mean(g) - x̂ · mean(g ⊙ x̂));  dWeight += Σ_rows dy ⊙ x̂;  dBias += Σ_rows dy.

extension TrainOps {
    // MARK: LayerNorm (biased variance, as PyTorch)

    /// y = (x - mean) * rstd * weight + bias, per row of `dim`; writes mean[rows] and rstd[rows].
    public static func layerNormForward(
        y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        rows: Int, dim: Int, eps: Float
    ) {
        guard rows > 0, dim > 0 else { return }
        let yp = TrainMut(y), mp = TrainMut(mean), rp = TrainMut(rstd)
        let xp = TrainConst(x), wp = TrainConst(weight), bp = TrainConst(bias)
        trainRows(rows, workPerItem: 4 * dim) { range in
            for r in range {
                let xr = xp.p + r * dim, yr = yp.p + r * dim
                let mu = simdSum(xr, dim) / Float(dim)
                let variance = simdSumSquares(xr, dim, shift: mu) / Float(dim)
                let s = 1 / (variance + eps).squareRoot()
                mp.p[r] = mu; rp.p[r] = s
                for i in 0..<dim { yr[i] = (xr[i] - mu) * s * wp.p[i] + bp.p[i] }
            }
        }
    }

    /// Accumulates dx, dWeight, dBias from dy, using the forward's x, mean and rstd.
    public static func layerNormBackward(
        dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, rows: Int, dim: Int
    ) {
        guard rows > 0, dim > 0 else { return }
        let chunks = trainChunks(rows, workPerItem: 8 * dim)
        let needParams = dWeight != nil || dBias != nil
        // Per-chunk partial sums of dWeight | dBias, reduced after the loop.
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: needParams ? chunks * 2 * dim : 1)
        defer { partial.deallocate() }
        if needParams { partial.initialize(repeating: 0, count: chunks * 2 * dim) }
        let pp = TrainMut(partial), dxp = TrainOptMut(dx)
        let dyp = TrainConst(dy), xp = TrainConst(x), mp = TrainConst(mean), rp = TrainConst(rstd), wp = TrainConst(weight)
        trainParallel(rows, chunks: chunks) { c, range in
            let g = UnsafeMutablePointer<Float>.allocate(capacity: dim)
            defer { g.deallocate() }
            let pw = pp.p + c * 2 * dim, pb = pw + dim
            for r in range {
                let xr = xp.p + r * dim, dyr = dyp.p + r * dim
                let mu = mp.p[r], s = rp.p[r]
                var sumG: Float = 0, sumGX: Float = 0
                for i in 0..<dim {
                    let xh = (xr[i] - mu) * s
                    let gi = dyr[i] * wp.p[i]
                    g[i] = gi
                    sumG += gi; sumGX += gi * xh
                    if needParams { pw[i] += dyr[i] * xh; pb[i] += dyr[i] }
                }
                if let d = dxp.p {
                    let dr = d + r * dim
                    let mg = sumG / Float(dim), mgx = sumGX / Float(dim)
                    for i in 0..<dim {
                        let xh = (xr[i] - mu) * s
                        dr[i] += s * (g[i] - mg - xh * mgx)
                    }
                }
            }
        }
        guard needParams else { return }
        for c in 0..<chunks {
            let pw = partial + c * 2 * dim, pb = pw + dim
            if let dWeight { for i in 0..<dim { dWeight[i] += pw[i] } }
            if let dBias { for i in 0..<dim { dBias[i] += pb[i] } }
        }
    }
}
