import Foundation

// Optimiser kernels: AdamW as torch.optim.AdamW (non-amsgrad, non-capturable), with torch's order
// of float32 operations and its fused multiply-adds (bit for bit with torch 2.15 on CPU in the test):
//   p *= 1 - lr·wd;  m = lerp(m, g, 1-β1);  v = β2 v + (1-β2) g²;
//   p += -(lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + eps)
// (scalars formed in Double, as torch forms them in Python); the global-norm helpers.

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
        // The hyperparameters as the Python doubles a torch user writes (0.98, not Float(0.98)
        // widened): 1 - β2 is then 0.02 to the last bit, as in torch, instead of 0.01999998.
        let lr = decimalDouble(learningRate), beta1 = decimalDouble(beta1), beta2 = decimalDouble(beta2)
        let bc1 = 1 - Foundation.pow(beta1, t), bc2 = 1 - Foundation.pow(beta2, t)
        // Scalars as torch forms them (Python doubles, used as float32 scalars).
        let stepSize = Float(lr / bc1)
        let sqrtBC2 = Float(bc2.squareRoot())
        let decay = Float(1 - lr * decimalDouble(weightDecay))
        let ob1 = Float(1 - beta1), b2 = Float(beta2), ob2 = Float(1 - beta2)
        let pp = TrainMut(parameters), gp = TrainConst(gradients), mp = TrainMut(m), vp = TrainMut(v)
        trainRows(count, workPerItem: 12) { range in
            let p = pp.p, g = gp.p, mm = mp.p, vv = vp.p
            for i in range {
                let gi = g[i]
                // exp_avg.lerp_(grad, 1 - β1); exp_avg_sq.mul_(β2).addcmul_(grad, grad, 1 - β2)
                // ATen's CPU kernels run fused multiply-adds (its vectorised lerp is fma(w, end - self,
                // self); GCC contracts addcmul's and addcdiv's a + b·c). Each product of two floats is
                // exact in Double (24 × 24 bits), so a Double add rounded to Float gives the fused
                // result (bar a rare double rounding) without libm's fmaf on baseline x86-64.
                // exp_avg.lerp_(grad, 1 - β1); exp_avg_sq.mul_(β2).addcmul_(grad, grad, 1 - β2)
                let mi = Float(Double(mm[i]) + Double(ob1) * Double(gi - mm[i]))
                let vi = Float(Double(b2 * vv[i]) + Double(ob2 * gi) * Double(gi))
                mm[i] = mi; vv[i] = vi
                // param.mul_(1 - lr·wd); denom = sqrt(v) / sqrt(bc2) + eps; param.addcdiv_(m, denom, -lr/bc1)
                let denom = vi.squareRoot() / sqrtBC2 + eps
                p[i] = Float(Double(p[i] * decay) + Double(-stepSize) * Double(mi / denom))
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

/// The Double a decimal literal of `x` denotes (its shortest round-tripping decimal, as Python
/// would read it): 0.98 for Float(0.98), where Double(Float(0.98)) is 0.98000001907.
func decimalDouble(_ x: Float) -> Double { Double(x.description) ?? Double(x) }

/// Per-chunk Double results for concurrent closures (each chunk writes its own slot).
struct SharedDoubles: @unchecked Sendable {
    let p: UnsafeMutablePointer<Double>
    init(_ p: UnsafeMutablePointer<Double>) { self.p = p }
}
