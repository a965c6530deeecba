import KestrelKernels
import KestrelTestSupport
import XCTest

/// softmax, l2Normalize and add (CKernels) at each level against NaiveKernels (Double).
/// Tolerance: 1e-6 absolute + 1e-5 relative (softmax, L2), exact (add).
final class CSoftmaxTests: XCTestCase {
    func testAVX512MatchesNaive() throws { try atLevel(.avx512) { check() } }
    func testAVX2MatchesNaive() throws { try atLevel(.avx2) { check() } }
    func testPortableMatchesNaive() throws { try atLevel(.portable) { check() } }

    func testAVX512NegativeInfinity() throws { try atLevel(.avx512) { checkInfinities() } }
    func testAVX2NegativeInfinity() throws { try atLevel(.avx2) { checkInfinities() } }
    func testPortableNegativeInfinity() throws { try atLevel(.portable) { checkInfinities() } }

    private func check() {
        var rng = SeededRandom(seed: 72)
        for rows in levelRows {
            for c in levelColumns {
                let x = randomTensor([rows, c], &rng, scale: 10)
                var fast = x, slow = x
                softmax(&fast)
                NaiveKernels.softmax(&slow)
                assertClose(fast.data, slow.data, absolute: 1e-6, relative: 1e-5, "softmax \(rows)x\(c)")
                var pointer = x.data
                pointer.withUnsafeMutableBufferPointer { softmaxRows($0.baseAddress!, rows: rows, columns: c, threads: 2) }
                XCTAssertEqual(pointer, fast.data, "softmaxRows \(rows)x\(c)")

                var l2 = x, l2Slow = x
                l2Normalize(&l2)
                NaiveKernels.l2Normalize(&l2Slow)
                assertClose(l2.data, l2Slow.data, absolute: 1e-6, relative: 1e-5, "l2Normalize \(rows)x\(c)")

                var sum = x, sumSlow = x
                add(&sum, l2Slow)
                NaiveKernels.add(&sumSlow, l2Slow)
                XCTAssertEqual(sum.data, sumSlow.data, "add \(rows)x\(c)")
            }
        }
        var zero = Tensor(shape: [2, 17])
        l2Normalize(&zero)
        XCTAssertEqual(zero.data, [Float](repeating: 0, count: 34), "a zero row stays zero")
    }

    /// -inf entries (anywhere, including SIMD tails) give exactly 0; an all -inf row gives zeros.
    private func checkInfinities() {
        var rng = SeededRandom(seed: 73)
        for c in levelColumns {
            var x = randomTensor([3, c], &rng, scale: 5)
            for j in 0..<c where j % 3 == 1 { x.data[j] = -.infinity }      // row 0: every third masked
            for j in 0..<c { x.data[c + j] = -.infinity }                    // row 1: all masked
            x.data[2 * c + c - 1] = -.infinity                               // row 2: the last (tail) masked
            var fast = x, slow = x
            softmax(&fast)
            NaiveKernels.softmax(&slow)
            assertNoNaN(fast, "softmax with -inf, \(c) columns")
            assertClose(fast.data, slow.data, absolute: 1e-6, relative: 1e-5, "softmax with -inf, \(c) columns")
            for j in 0..<c where j % 3 == 1 { XCTAssertEqual(fast.data[j], 0) }
            XCTAssertEqual(Array(fast.data[c..<(2 * c)]), [Float](repeating: 0, count: c))
            XCTAssertEqual(fast.data[3 * c - 1], 0)
        }
    }
}
