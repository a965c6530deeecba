import KestrelKernels
import KestrelTestSupport
import XCTest

/// layerNormRows (CKernels) at each level against NaiveKernels.layerNorm (Double sums).
final class CLayerNormTests: XCTestCase {
    func testAVX512MatchesNaive() throws { try atLevel(.avx512) { check() } }
    func testAVX2MatchesNaive() throws { try atLevel(.avx2) { check() } }
    func testPortableMatchesNaive() throws { try atLevel(.portable) { check() } }

    func testAVX512ConstantRows() throws { try atLevel(.avx512) { checkConstantRows() } }
    func testAVX2ConstantRows() throws { try atLevel(.avx2) { checkConstantRows() } }
    func testPortableConstantRows() throws { try atLevel(.portable) { checkConstantRows() } }

    /// Rows offset from zero (mean 3) so the two-pass variance matters; in place and out of place,
    /// one and two threads. Tolerance: 1e-5 absolute + 1e-4 relative (float sums of up to 3072 terms
    /// against Double).
    private func check() {
        var rng = SeededRandom(seed: 70)
        for rows in levelRows {
            for c in levelColumns {
                var x = randomTensor([rows, c], &rng, scale: 2)
                for i in x.data.indices { x.data[i] += 3 }
                let w = randomTensor([c], &rng), b = randomTensor([c], &rng)
                let expected = NaiveKernels.layerNorm(x, weight: w, bias: b, eps: 1e-5)
                let viaTensor = layerNorm(x, weight: w, bias: b, eps: 1e-5)
                assertClose(viaTensor.data, expected.data, "layerNorm \(rows)x\(c)")
                var inPlace = x.data
                inPlace.withUnsafeMutableBufferPointer { p in
                    layerNormRows(p.baseAddress!, rows: rows, columns: c, weight: w.data, bias: b.data, eps: 1e-5,
                                  into: p.baseAddress!, threads: rows % 2 + 1)
                }
                assertClose(inPlace, expected.data, "layerNormRows in place \(rows)x\(c)")
            }
        }
    }

    /// A constant row has zero variance: the output is exactly the bias (no NaN, eps keeps it finite).
    private func checkConstantRows() {
        for c in levelColumns {
            let x = Tensor(shape: [3, c], data: (0..<(3 * c)).map { Float([5, -1e4, 0][$0 / c]) })
            let w = Tensor(shape: [c], repeating: 2), b = Tensor(shape: [c], data: (0..<c).map { Float($0) * 0.5 })
            let y = layerNorm(x, weight: w, bias: b, eps: 1e-5)
            assertNoNaN(y, "constant rows, \(c) columns")
            for r in 0..<3 { XCTAssertEqual(Array(y.data[(r * c)..<((r + 1) * c)]), b.data, "row \(r), \(c) columns") }
        }
    }
}
