// Element-wise activations and their derivatives (float math, parallel over chunks):
//   gelu (erf, nn.GELU()):  f = 0.5 x (1 + erf(x/√2));  f' = 0.5 (1 + erf(x/√2)) + x · exp(-x²/2) / √(2π)
//   quickGelu (CLIP):       f = x · s, s = sigmoid(1.702 x);  f' = s + 1.702 x s (1 - s)
//   geluTanh (nn.GELU(approximate="tanh")): u = √(2/π)(x + 0.044715 x³), t = tanh u,
//                           f = 0.5 x (1 + t);  f' = 0.5 (1 + t) + 0.5 x (1 - t²) √(2/π)(1 + 3·0.044715 x²)

extension TrainOps {
    // MARK: Activations (GELU erf, QuickGELU, tanh-GELU)

    /// y[i] = f(x[i]). (CKernels' vectorised activations, as inference uses: erf within 1.5e-7.)
    public static func activationForward(
        _ activation: Activation, y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int
    ) {
        guard count > 0 else { return }
        y.update(from: x, count: count)
        activate(y, count: count, activation)
    }

    /// dx[i] += f'(x[i]) · dy[i]. (16 lanes at a time on FastMath's vexp/verf.)
    public static func activationBackward(
        _ activation: Activation, dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
        count: Int
    ) {
        let dp = TrainMut(dx), gp = TrainConst(dy), xp = TrainConst(x)
        trainRows(count, workPerItem: 16) { r in
            let d = dp.p + r.lowerBound, g = gp.p + r.lowerBound, xx = xp.p + r.lowerBound, n = r.count
            switch activation {
            case .gelu: accumulateDerivative(d, g, xx, n, GELUDerivative.self)
            case .quickGelu: accumulateDerivative(d, g, xx, n, QuickGELUDerivative.self)
            case .geluTanh: accumulateDerivative(d, g, xx, n, GELUTanhDerivative.self)
            }
        }
    }

    /// 0.5 (1 + erf(x/√2)) + x · exp(-x²/2) / √(2π), with erf as FastMath's `verf` (Abramowitz &
    /// Stegun 7.1.26, |error| < 1.5e-7), whose exp(-(x/√2)²) is the density's exp(-x²/2): one exp.
    @inline(__always)
    static func geluDerivative(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let e = vexp(-0.5 * x * x)
        let bits = unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF
        let ax = unsafeBitCast(bits, to: SIMD16<Float>.self) * 0.70710678118654752
        let t: SIMD16<Float> = 1 / (ax * 0.3275911 + 1)
        var r = SIMD16<Float>(repeating: 1.061405429)
        r = r * t - 1.453152027
        r = r * t + 1.421413741
        r = r * t - 0.284496736
        r = r * t + 0.254829592
        let erfAbs: SIMD16<Float> = 1 - r * t * e
        let erfX = erfAbs.replacing(with: -erfAbs, where: x .< 0)
        let cdf: SIMD16<Float> = 0.5 * (1 + erfX)
        let pdf: SIMD16<Float> = e * 0.39894228040143268
        return cdf + x * pdf
    }

    /// s + 1.702 x s (1 - s), s = sigmoid(1.702 x).
    @inline(__always)
    static func quickGeluDerivative(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let s: SIMD16<Float> = 1 / (1 + vexp(-1.702 * x))
        let slope: SIMD16<Float> = 1.702 * x * s * (1 - s)
        return s + slope
    }

    /// 0.5 (1 + t) + 0.5 x (1 - t²) k (1 + 3·0.044715 x²), t = tanh(k (x + 0.044715 x³)) = 2σ(2u) - 1.
    @inline(__always)
    static func geluTanhDerivative(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let k: Float = 0.79788456080286536
        let x2 = x * x
        let u = k * x * (1 + 0.044715 * x2)
        let e = vexp(-2 * u)
        let t: SIMD16<Float> = 2 / (1 + e) - 1
        let du: SIMD16<Float> = k * (1 + 0.134145 * x2)
        let left: SIMD16<Float> = 0.5 * (1 + t)
        let right: SIMD16<Float> = 0.5 * x * (1 - t * t)
        return left + right * du
    }

    /// d[i] += f'(x[i]) · g[i] over n values, 16 lanes at a time (the tail zero-padded).
    /// Generic over the derivative so each activation gets its own specialised, inlined loop.
    @inline(__always)
    static func accumulateDerivative<F: LaneDerivative>(
        _ d: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int,
        _ f: F.Type
    ) {
        let dr = UnsafeMutableRawPointer(d), gr = UnsafeRawPointer(g), xr = UnsafeRawPointer(x)
        var i = 0
        while i + 16 <= n {
            let xv = xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            let gv = gr.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            let dv = dr.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            dr.storeBytes(of: dv + F.apply(xv) * gv, toByteOffset: i * 4, as: SIMD16<Float>.self)
            i += 16
        }
        if i < n {
            var xv = SIMD16<Float>()
            for j in 0..<(n - i) { xv[j] = x[i + j] }
            let fv = F.apply(xv)
            for j in 0..<(n - i) { d[i + j] += fv[j] * g[i + j] }
        }
    }
}

/// f' over 16 lanes, as a type so loops specialise on it.
protocol LaneDerivative { static func apply(_ x: SIMD16<Float>) -> SIMD16<Float> }

enum GELUDerivative: LaneDerivative {
    @inline(__always) static func apply(_ x: SIMD16<Float>) -> SIMD16<Float> { TrainOps.geluDerivative(x) }
}

enum QuickGELUDerivative: LaneDerivative {
    @inline(__always) static func apply(_ x: SIMD16<Float>) -> SIMD16<Float> { TrainOps.quickGeluDerivative(x) }
}

enum GELUTanhDerivative: LaneDerivative {
    @inline(__always) static func apply(_ x: SIMD16<Float>) -> SIMD16<Float> { TrainOps.geluTanhDerivative(x) }
}
