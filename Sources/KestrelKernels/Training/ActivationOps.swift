import Foundation

// Element-wise activations and their derivatives (float math, parallel over chunks):
//   gelu (erf, nn.GELU()):  f = 0.5 x (1 + erf(x/√2));  f' = 0.5 (1 + erf(x/√2)) + x · exp(-x²/2) / √(2π)
//   quickGelu (CLIP):       f = x · s, s = sigmoid(1.702 x);  f' = s + 1.702 x s (1 - s)
//   geluTanh (nn.GELU(approximate="tanh")): u = √(2/π)(x + 0.044715 x³), t = tanh u,
//                           f = 0.5 x (1 + t);  f' = 0.5 (1 + t) + 0.5 x (1 - t²) √(2/π)(1 + 3·0.044715 x²)

extension TrainOps {
    // MARK: Activations (GELU erf, QuickGELU, tanh-GELU)

    /// y[i] = f(x[i]).
    public static func activationForward(
        _ activation: Activation, y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int
    ) {
        let yp = TrainMut(y), xp = TrainConst(x)
        trainRows(count, workPerItem: 20) { r in
            let yy = yp.p, xx = xp.p
            switch activation {
            case .gelu:
                for i in r { let v = xx[i]; yy[i] = 0.5 * v * (1 + erf(v * Float(0.5).squareRoot())) }
            case .quickGelu:
                for i in r { let v = xx[i]; yy[i] = v / (1 + exp(-1.702 * v)) }
            case .geluTanh:
                let k = Float((2 / Double.pi).squareRoot())
                for i in r { let v = xx[i]; yy[i] = 0.5 * v * (1 + tanh(k * (v + 0.044715 * v * v * v))) }
            }
        }
    }

    /// dx[i] += f'(x[i]) · dy[i].
    public static func activationBackward(
        _ activation: Activation, dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
        count: Int
    ) {
        let dp = TrainMut(dx), gp = TrainConst(dy), xp = TrainConst(x)
        trainRows(count, workPerItem: 30) { r in
            let d = dp.p, g = gp.p, xx = xp.p
            switch activation {
            case .gelu:
                let invSqrt2 = Float(0.5).squareRoot(), invSqrt2Pi = Float(1 / (2 * Double.pi).squareRoot())
                for i in r {
                    let v = xx[i]
                    let f1 = 0.5 * (1 + erf(v * invSqrt2)) + v * exp(-0.5 * v * v) * invSqrt2Pi
                    d[i] += f1 * g[i]
                }
            case .quickGelu:
                for i in r {
                    let v = xx[i]
                    let s = 1 / (1 + exp(-1.702 * v))
                    d[i] += (s + 1.702 * v * s * (1 - s)) * g[i]
                }
            case .geluTanh:
                let k = Float((2 / Double.pi).squareRoot())
                for i in r {
                    let v = xx[i]
                    let t = tanh(k * (v + 0.044715 * v * v * v))
                    let f1 = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v)
                    d[i] += f1 * g[i]
                }
            }
        }
    }
}
