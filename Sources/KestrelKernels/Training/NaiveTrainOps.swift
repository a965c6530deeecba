import Foundation

// The naive twins of `TrainOps`: the same signatures, written as plain loops with Double
// accumulation and no BLAS or threads. Tests compare every fast op against these and run the
// finite-difference checks on them. Backward passes accumulate (+=), as the fast ones.

/// Plain-loop reference implementations of every `TrainOps` op (same signatures and semantics).
public enum NaiveTrainOps {
    // MARK: Linear

    /// y[rows, outDim] = x[rows, inDim] · weight[outDim, inDim]^T (+ bias[outDim]).
    public static func linearForward(
        y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, rows: Int, inDim: Int, outDim: Int
    ) {
        for r in 0..<rows {
            for o in 0..<outDim {
                var s = bias.map { Double($0[o]) } ?? 0
                for i in 0..<inDim { s += Double(x[r * inDim + i]) * Double(weight[o * inDim + i]) }
                y[r * outDim + o] = Float(s)
            }
        }
    }

    /// dx += dy · weight;  dWeight += dy^T · x;  dBias += Σ_rows dy.
    public static func linearBackward(
        dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rows: Int, inDim: Int, outDim: Int
    ) {
        if let dx {
            for r in 0..<rows {
                for i in 0..<inDim {
                    var s = 0.0
                    for o in 0..<outDim { s += Double(dy[r * outDim + o]) * Double(weight[o * inDim + i]) }
                    dx[r * inDim + i] += Float(s)
                }
            }
        }
        if let dWeight {
            for o in 0..<outDim {
                for i in 0..<inDim {
                    var s = 0.0
                    for r in 0..<rows { s += Double(dy[r * outDim + o]) * Double(x[r * inDim + i]) }
                    dWeight[o * inDim + i] += Float(s)
                }
            }
        }
        if let dBias {
            for o in 0..<outDim {
                var s = 0.0
                for r in 0..<rows { s += Double(dy[r * outDim + o]) }
                dBias[o] += Float(s)
            }
        }
    }

    // MARK: LayerNorm

    /// y = (x - mean) * rstd * weight + bias, per row of `dim`; writes mean[rows] and rstd[rows].
    public static func layerNormForward(
        y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        rows: Int, dim: Int, eps: Float
    ) {
        for r in 0..<rows {
            var mu = 0.0
            for i in 0..<dim { mu += Double(x[r * dim + i]) }
            mu /= Double(dim)
            var v = 0.0
            for i in 0..<dim { let c = Double(x[r * dim + i]) - mu; v += c * c }
            v /= Double(dim)
            let s = 1 / (v + Double(eps)).squareRoot()
            mean[r] = Float(mu); rstd[r] = Float(s)
            for i in 0..<dim {
                y[r * dim + i] = Float((Double(x[r * dim + i]) - mu) * s * Double(weight[i]) + Double(bias[i]))
            }
        }
    }

    /// Accumulates dx, dWeight, dBias from dy, using the forward's x, mean and rstd.
    public static func layerNormBackward(
        dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, rows: Int, dim: Int
    ) {
        var dw = [Double](repeating: 0, count: dim), db = [Double](repeating: 0, count: dim)
        for r in 0..<rows {
            let mu = Double(mean[r]), s = Double(rstd[r])
            var sumG = 0.0, sumGX = 0.0
            for i in 0..<dim {
                let xh = (Double(x[r * dim + i]) - mu) * s
                let g = Double(dy[r * dim + i]) * Double(weight[i])
                sumG += g; sumGX += g * xh
                dw[i] += Double(dy[r * dim + i]) * xh
                db[i] += Double(dy[r * dim + i])
            }
            if let dx {
                for i in 0..<dim {
                    let xh = (Double(x[r * dim + i]) - mu) * s
                    let g = Double(dy[r * dim + i]) * Double(weight[i])
                    dx[r * dim + i] += Float(s * (g - sumG / Double(dim) - xh * sumGX / Double(dim)))
                }
            }
        }
        if let dWeight { for i in 0..<dim { dWeight[i] += Float(dw[i]) } }
        if let dBias { for i in 0..<dim { dBias[i] += Float(db[i]) } }
    }

    // MARK: Activations

    /// f(x) in Double.
    public static func activation(_ a: Activation, _ x: Double) -> Double {
        switch a {
        case .gelu: return 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
        case .quickGelu: return x / (1 + exp(-1.702 * x))
        case .geluTanh: return 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
        }
    }

    /// f'(x) in Double.
    public static func activationDerivative(_ a: Activation, _ x: Double) -> Double {
        switch a {
        case .gelu:
            return 0.5 * (1 + erf(x / 2.0.squareRoot())) + x * exp(-x * x / 2) / (2 * Double.pi).squareRoot()
        case .quickGelu:
            let s = 1 / (1 + exp(-1.702 * x))
            return s + 1.702 * x * s * (1 - s)
        case .geluTanh:
            let k = (2 / Double.pi).squareRoot()
            let t = tanh(k * (x + 0.044715 * x * x * x))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
        }
    }

    /// y[i] = f(x[i]).
    public static func activationForward(
        _ activation: Activation, y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int
    ) {
        for i in 0..<count { y[i] = Float(Self.activation(activation, Double(x[i]))) }
    }

    /// dx[i] += f'(x[i]) · dy[i].
    public static func activationBackward(
        _ activation: Activation, dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
        count: Int
    ) {
        for i in 0..<count { dx[i] += Float(activationDerivative(activation, Double(x[i])) * Double(dy[i])) }
    }

    // MARK: Softmax

    /// y = softmax(x) per row of `columns`.
    public static func softmaxForward(
        y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows: Int, columns: Int
    ) {
        for r in 0..<rows {
            var m = -Double.infinity
            for j in 0..<columns { m = max(m, Double(x[r * columns + j])) }
            var s = 0.0
            for j in 0..<columns { s += exp(Double(x[r * columns + j]) - m) }
            for j in 0..<columns { y[r * columns + j] = Float(exp(Double(x[r * columns + j]) - m) / s) }
        }
    }

    /// dx += y ⊙ (dy - Σ_j dy_j y_j), per row.
    public static func softmaxBackward(
        dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, y: UnsafePointer<Float>, rows: Int, columns: Int
    ) {
        for r in 0..<rows {
            var dot = 0.0
            for j in 0..<columns { dot += Double(dy[r * columns + j]) * Double(y[r * columns + j]) }
            for j in 0..<columns {
                dx[r * columns + j] += Float(Double(y[r * columns + j]) * (Double(dy[r * columns + j]) - dot))
            }
        }
    }
}
