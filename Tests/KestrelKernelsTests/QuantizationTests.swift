import KestrelKernels
import KestrelTestSupport
import XCTest

/// The int8 quantisation helpers of the oneDNN backend against their naive twins, and the
/// round-trip error each scheme promises (half a step).
final class QuantizationTests: XCTestCase {
    func testPerChannelWeightsMatchNaiveTwin() {
        var rng = SeededRandom(seed: 11)
        for (rows, cols) in [(1, 1), (3, 7), (17, 33), (65, 768)] {
            var w = rng.floats(rows * cols, scale: 3)
            if rows > 2 { for j in 0..<cols { w[cols + j] = 0 } }   // an all-zero row gets scale 1
            let fast = Quantization.quantizeRowsS8(w, rows: rows, cols: cols)
            let naive = NaiveKernels.quantizeRowsS8(w, rows: rows, cols: cols)
            XCTAssertEqual(fast.scales, naive.scales, "\(rows)x\(cols)")
            XCTAssertEqual(fast.q, naive.q, "\(rows)x\(cols)")
            for r in 0..<rows {
                if rows > 2 && r == 1 { XCTAssertEqual(fast.scales[r], 1) }
                for j in 0..<cols {
                    let back = Float(fast.q[r * cols + j]) * fast.scales[r]
                    XCTAssertLessThanOrEqual(abs(back - w[r * cols + j]), fast.scales[r] / 2 * 1.0001, "round trip \(r),\(j)")
                }
            }
            // The largest magnitude of each non-zero row maps to +-127.
            for r in 0..<rows where fast.scales[r] != 1 || w[(r * cols)..<((r + 1) * cols)].contains { $0 != 0 } {
                XCTAssertEqual(fast.q[(r * cols)..<((r + 1) * cols)].map { abs(Int($0)) }.max(), 127)
            }
        }
    }

    func testU8ActivationsMatchNaiveTwinAndRoundTrip() {
        var rng = SeededRandom(seed: 12)
        for n in [1, 3, 17, 33, 1000] {
            for shift: Float in [0, 0.8, -0.9] {   // mixed signs, mostly positive, mostly negative
                let x = rng.floats(n).map { $0 + shift }
                let fast = Quantization.quantizeU8(x), naive = NaiveKernels.quantizeU8(x)
                XCTAssertEqual(fast.scale, naive.scale, "n \(n)")
                XCTAssertEqual(fast.zeroPoint, naive.zeroPoint, "n \(n)")
                XCTAssertEqual(fast.q, naive.q, "n \(n) shift \(shift)")
                for i in x.indices {
                    let back = Float(Int32(fast.q[i]) - fast.zeroPoint) * fast.scale
                    XCTAssertLessThanOrEqual(abs(back - x[i]), fast.scale / 2 * 1.001 + 1e-7, "round trip \(i)")
                }
            }
        }
        // Zero is exact, and an all-zero tensor is all zero points.
        let z = Quantization.quantizeU8([0, 0, 0])
        XCTAssertEqual(z.q.map { Int32($0) }, [z.zeroPoint, z.zeroPoint, z.zeroPoint])
        let mixed = Quantization.quantizeU8([-1, 0, 2])
        XCTAssertEqual(Int32(mixed.q[1]), mixed.zeroPoint)
    }

    func testS8ActivationsMatchNaiveTwinAndRoundTrip() {
        var rng = SeededRandom(seed: 13)
        for n in [1, 3, 17, 33, 1000] {
            let x = rng.floats(n, scale: 5)
            let fast = Quantization.quantizeS8(x), naive = NaiveKernels.quantizeS8(x)
            XCTAssertEqual(fast.scale, naive.scale)
            XCTAssertEqual(fast.q, naive.q, "n \(n)")
            for i in x.indices {
                XCTAssertLessThanOrEqual(abs(Float(fast.q[i]) * fast.scale - x[i]), fast.scale / 2 * 1.001 + 1e-7)
            }
        }
        XCTAssertEqual(Quantization.quantizeS8([0, 0]).scale, 1)
    }
}
