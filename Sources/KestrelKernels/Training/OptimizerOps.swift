import Foundation

// Optimiser kernels: AdamW exactly as torch.optim.AdamW (single-tensor, non-amsgrad path):
//   p *= 1 - lr·wd;  m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;
//   p -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + eps)
// (bias corrections in Double); the global-norm helpers.

extension TrainOps {
    // MARK: Optimiser kernels

    /// One AdamW step (Loshchilov & Hutter; torch.optim.AdamW): for each i,
    ///   m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;
    ///   p -= lr · weightDecay · p;  p -= lr · (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + eps).
    /// `step` t starts at 1. Applies to `count` contiguous values (one call per parameter group).
    /// As torch, the denominator is computed as sqrt(v) / sqrt(1-β2^t) + eps.
    public static func adamWStep(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
        learningRate: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float, step: Int
    ) {
        let t = Double(max(1, step))
        let bc1 = 1 - Foundation.pow(Double(beta1), t), bc2 = 1 - Foundation.pow(Double(beta2), t)
        let stepSize = Float(Double(learningRate) / bc1)
        let invSqrtBC2 = Float(1 / bc2.squareRoot())
        let decay = 1 - learningRate * weightDecay
        let b1 = beta1, b2 = beta2, ob1 = 1 - beta1, ob2 = 1 - beta2
        let pp = TrainMut(parameters), gp = TrainConst(gradients), mp = TrainMut(m), vp = TrainMut(v)
        trainRows(count, workPerItem: 12) { range in
            let p = pp.p, g = gp.p, mm = mp.p, vv = vp.p
            for i in range {
                let gi = g[i]
                let mi = b1 * mm[i] + ob1 * gi
                let vi = b2 * vv[i] + ob2 * gi * gi
                mm[i] = mi; vv[i] = vi
                let pi = p[i] * decay
                p[i] = pi - stepSize * mi / (vi.squareRoot() * invSqrtBC2 + eps)
            }
        }
    }

    /// Σ g² over `count` values, accumulated in Double (for global-norm clipping).
    public static func sumOfSquares(_ g: UnsafePointer<Float>, count: Int) -> Double {
        let chunks = trainChunks(count, workPerItem: 2)
        var partial = [Double](repeating: 0, count: chunks)
        let gp = TrainConst(g)
        partial.withUnsafeMutableBufferPointer { buf in
            let out = SharedDoubles(buf.baseAddress!)
            trainParallel(count, chunks: chunks) { c, range in
                var acc = SIMD8<Double>(repeating: 0)
                var i = range.lowerBound
                while i + 8 <= range.upperBound {
                    var v = SIMD8<Double>()
                    for l in 0..<8 { v[l] = Double(gp.p[i + l]) }
                    acc += v * v
                    i += 8
                }
                var s = acc.sum()
                while i < range.upperBound { let x = Double(gp.p[i]); s += x * x; i += 1 }
                out.p[c] = s
            }
        }
        return partial.reduce(0, +)
    }

    /// g *= factor.
    public static func scale(_ g: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        let gp = TrainMut(g)
        trainRows(count, workPerItem: 1) { range in
            for i in range { gp.p[i] *= factor }
        }
    }
}

/// Per-chunk Double results for concurrent closures (each chunk writes its own slot).
struct SharedDoubles: @unchecked Sendable {
    let p: UnsafeMutablePointer<Double>
    init(_ p: UnsafeMutablePointer<Double>) { self.p = p }
}
