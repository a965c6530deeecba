import Foundation
import KestrelKernels
import KestrelTestSupport
import XCTest

/// GELU, tanh-GELU and QuickGELU (CKernels) at each level against Double math (NaiveKernels).
/// Tolerance: 1e-6 absolute + 1e-5 relative. The erf approximation (Abramowitz & Stegun 7.1.26)
/// is within 1.5e-7 absolutely, so GELU is within 0.5 |x| 1.5e-7 + rounding; the exp is within
/// ~2 ulp.
final class CActivationLevelTests: XCTestCase {
    func testAVX512MatchesDouble() throws { try atLevel(.avx512) { check() } }
    func testAVX2MatchesDouble() throws { try atLevel(.avx2) { check() } }
    func testPortableMatchesDouble() throws { try atLevel(.portable) { check() } }

    func testAVX512LargeValues() throws { try atLevel(.avx512) { checkLarge() } }
    func testAVX2LargeValues() throws { try atLevel(.avx2) { checkLarge() } }
    func testPortableLargeValues() throws { try atLevel(.portable) { checkLarge() } }

    private func check() {
        var rng = SeededRandom(seed: 71)
        for rows in [1, 7, 50] {
            for c in levelColumns {
                let x = randomTensor([rows, c], &rng, scale: 8)
                for activation in Activation.allCases {
                    var expected = x
                    NaiveKernels.apply(activation, &expected)
                    var viaTensor = x
                    activation.apply(&viaTensor)
                    assertClose(viaTensor.data, expected.data, absolute: 1e-6, relative: 1e-5, "\(activation) \(rows)x\(c)")
                    var viaPointer = x.data
                    viaPointer.withUnsafeMutableBufferPointer { p in
                        activate(p.baseAddress!, count: p.count, activation, threads: 2)
                    }
                    XCTAssertEqual(viaPointer, viaTensor.data, "\(activation) \(rows)x\(c): pointer vs tensor")
                }
            }
        }
    }

    /// Large |x|: GELU is x for large positive x and (-)0 for large negative x, never NaN, including
    /// where x^3 or x^2 overflow float32.
    private func checkLarge() {
        let values: [Float] = [-1e30, -1e20, -1e6, -1e4, -100, -50, -20, -10, -5.5, -3, 3, 5.5, 10, 20, 50, 100,
                               1e4, 1e6, 1e20, 1e30, 0, -0.0, 1e-30, -1e-30, .leastNonzeroMagnitude, 88, -88, 89, -89]
        for activation in Activation.allCases {
            var x = Tensor(shape: [values.count], data: values)
            activation.apply(&x)
            var expected = Tensor(shape: [values.count], data: values)
            NaiveKernels.apply(activation, &expected)
            assertNoNaN(x, "\(activation) of large values")
            assertClose(x.data, expected.data, absolute: 1e-6, relative: 1e-5, "\(activation) of large values")
        }
    }
}
