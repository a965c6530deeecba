import KestrelKernels
import KestrelTestSupport
import XCTest

// Shared helpers for the training-op tests: seeded inputs, element-wise closeness with a reported
// worst element, and a central finite-difference check of a backward pass.

/// `n` seeded floats in [-scale, scale).
func trainRandom(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var rng = SeededRandom(seed: seed)
    return rng.floats(n, scale: scale)
}

/// Asserts |a - b| <= atol + rtol·|b| element-wise; names the worst element.
func assertAllClose(
    _ a: [Float], _ b: [Float], atol: Float, rtol: Float, _ what: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(a.count, b.count, "\(what): sizes", file: file, line: line)
    var worst = -Float.infinity, at = -1
    for i in 0..<min(a.count, b.count) {
        let excess = abs(a[i] - b[i]) - (atol + rtol * abs(b[i]))
        if !(excess <= worst) || !a[i].isFinite { worst = a[i].isFinite ? excess : .infinity; at = i }
    }
    if at >= 0 {
        XCTAssertLessThanOrEqual(worst, 0, "\(what): element \(at) is \(a[at]), expected \(b[at])", file: file, line: line)
    }
}

/// Σ r ⊙ y in Double: the scalar "loss" whose gradient with respect to y is r.
func weightedSum(_ r: [Float], _ y: [Float]) -> Double {
    var s = 0.0
    for i in 0..<min(r.count, y.count) { s += Double(r[i]) * Double(y[i]) }
    return s
}

/// Central finite differences of loss = Σ r ⊙ forward(inputs) against `analytic[k]` (the
/// backward's gradient of input k for dy = r; nil = not checked), at up to `samples` elements of
/// each input. `forward` should be a naive twin (Double inside) so the output's only error is its
/// final rounding to Float.
///
/// Tolerance: with h = 1e-2 the central difference has truncation error h²/6·|f'''| ≈ 2e-5·|f'''|
/// (the ops here have |f'''| of order 1 on inputs in [-1, 1]), and the Float rounding of each output
/// (≤ 6e-8·|y|, summed over ≤ a few hundred outputs weighted by |r| ≤ 1) adds ≲ 1e-5 / (2h) ≈ 5e-4.
/// So |fd - analytic| ≤ 2e-3 + 1e-2·|analytic| separates a correct gradient from a wrong one
/// (a missing term or a transposition is off by O(0.1) or more).
func checkFiniteDifferences(
    _ what: String, inputs: [[Float]], analytic: [[Float]?], r: [Float], h: Float = 1e-2,
    samples: Int = 24, atol: Double = 2e-3, rtol: Double = 1e-2,
    file: StaticString = #filePath, line: UInt = #line,
    forward: ([[Float]]) -> [Float]
) {
    var x = inputs
    for k in 0..<inputs.count {
        guard let g = analytic[k] else { continue }
        let n = inputs[k].count
        let stride = max(1, n / samples)
        var e = (k * 7) % max(1, min(stride, n))
        while e < n {
            let saved = x[k][e]
            x[k][e] = saved + h
            let lp = weightedSum(r, forward(x))
            x[k][e] = saved - h
            let lm = weightedSum(r, forward(x))
            x[k][e] = saved
            // The perturbation actually applied (x ± h rounds to Float).
            let step = Double(saved + h) - Double(saved - h)
            let fd = (lp - lm) / step
            let a = Double(g[e])
            XCTAssertLessThanOrEqual(
                abs(fd - a), atol + rtol * abs(a),
                "\(what): input \(k) element \(e): finite difference \(fd), backward \(a)", file: file, line: line)
            e += stride
        }
    }
}
