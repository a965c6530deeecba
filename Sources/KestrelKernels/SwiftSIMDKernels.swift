// The previous Swift SIMD implementations of the row kernels (SIMD16 code compiled for baseline
// x86-64, so it runs on SSE), kept as the baseline `kestrel-bench kernels` measures CKernels
// against in the same run. Nothing on the model path calls them.

/// The Swift SIMD row kernels that CKernels replaced (benchmark baseline). Same contracts as
/// `layerNormRows`, `activate`, `softmaxRows`.
public enum SwiftSIMDKernels {
    /// LayerNorm of x `[rows, c]` into y (may alias), biased variance.
    public static func layerNormRows(
        _ x: UnsafePointer<Float>, rows: Int, columns c: Int, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, eps: Float, into y: UnsafeMutablePointer<Float>, threads: Int = Kernels.threads
    ) {
        guard rows > 0, c > 0 else { return }
        let src = SharedConstPointer(x), dst = SharedPointer(y)
        let w = SharedConstPointer(weight), b = SharedConstPointer(bias)
        parallelRanges(rows, workPerItem: 4 * c, threads: threads) { r in
            for row in r {
                let s = src.base + row * c, d = dst.base + row * c
                let mean = simdSum(s, c) / Float(c)
                let variance = simdSumSquares(s, c, shift: mean) / Float(c)
                let inv = 1 / (variance + eps).squareRoot()
                for j in 0..<c { d[j] = (s[j] - mean) * inv * w.base[j] + b.base[j] }
            }
        }
    }

    /// Applies `activation` to `count` values in place.
    public static func activate(
        _ x: UnsafeMutablePointer<Float>, count: Int, _ activation: Activation, threads: Int = Kernels.threads
    ) {
        guard count > 0 else { return }
        let p = SharedPointer(x)
        parallelRanges(count, workPerItem: 8, threads: threads) { r in
            let q = p.base + r.lowerBound, n = r.count
            switch activation {
            case .gelu: mapInPlace(q, n) { v in 0.5 * v * (1 + verf(v * 0.70710678118654752)) }
            case .quickGelu: mapInPlace(q, n) { v in v / (1 + vexp(-1.702 * v)) }
            case .geluTanh: mapInPlace(q, n) { v in v / (1 + vexp(-1.5957691216057308 * (v + 0.044715 * v * v * v))) }
            }
        }
    }

    /// Softmax of each row of x `[rows, c]` in place.
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns c: Int, threads: Int = Kernels.threads) {
        guard rows > 0, c > 0 else { return }
        let p = SharedPointer(x)
        parallelRanges(rows, workPerItem: 12 * c, threads: threads) { r in
            for row in r { softmaxRow(p.base + row * c, c) }
        }
    }

    /// L2 normalisation of each row of x `[rows, c]` in place.
    public static func l2NormalizeRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns c: Int, threads: Int = Kernels.threads) {
        guard rows > 0, c > 0 else { return }
        let p = SharedPointer(x)
        parallelRanges(rows, workPerItem: 3 * c, threads: threads) { r in
            for row in r {
                let s = p.base + row * c
                let inv = 1 / max(simdSumSquares(s, c).squareRoot(), 1e-12)
                for j in 0..<c { s[j] *= inv }
            }
        }
    }
}
