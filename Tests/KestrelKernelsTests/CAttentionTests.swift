import KestrelKernels
import KestrelTestSupport
import XCTest

/// attention(qkv:...) at each level, on the direct CKernels path and on the sgemm path, against
/// NaiveKernels.attention(qkv:...) (Double). Tolerance: 1e-5 absolute + 1e-4 relative (float dot
/// products over d = 64 and sums over up to 77 keys against Double).
final class CAttentionTests: XCTestCase {
    func testAVX512MatchesNaive() throws { try atLevel(.avx512) { check() } }
    func testAVX2MatchesNaive() throws { try atLevel(.avx2) { check() } }
    func testPortableMatchesNaive() throws { try atLevel(.portable) { check() } }

    func testAVX512CrossAttention() throws { try atLevel(.avx512) { checkCross() } }
    func testAVX2CrossAttention() throws { try atLevel(.avx2) { checkCross() } }
    func testPortableCrossAttention() throws { try atLevel(.portable) { checkCross() } }

    /// (T, heads, d): T in {1, 7, 50, 77}, heads 1, 8, 12, d 64 and 32, plus odd d for the tails.
    private let shapes = [(1, 1, 64), (7, 8, 64), (50, 12, 64), (77, 8, 64), (77, 1, 32), (50, 8, 32), (7, 12, 32),
                          (1, 12, 32), (17, 3, 17), (9, 2, 5)]

    private func check() {
        var rng = SeededRandom(seed: 74)
        for (t, heads, d) in shapes {
            let batch = 3, c = heads * d
            let qkv = randomTensor([batch, t, 3 * c], &rng, scale: 1.5)
            // 0 < L < T, L = 0 (zeros) and L = T (or T = 1: 1, 0, 1).
            let lengths = [max(1, t / 2), 0, t]
            for causal in [false, true] {
                for valid in [nil, lengths] {
                    let label = "T\(t) H\(heads) d\(d) causal \(causal) valid \(String(describing: valid))"
                    let expected = NaiveKernels.attention(qkv: qkv, heads: heads, causal: causal, validLengths: valid)
                    for path in [AttentionPath.automatic, .direct, .sgemm] {
                        var out = [Float](repeating: .nan, count: batch * t * c)
                        out.withUnsafeMutableBufferPointer { o in
                            attention(qkv: qkv.data, batch: batch, tokens: t, heads: heads, headDim: d, causal: causal,
                                      validLengths: valid, into: o.baseAddress!, path: path, threads: 2)
                        }
                        assertClose(out, expected.data, absolute: 1e-5, relative: 1e-4, "\(path) \(label)")
                    }
                    if valid != nil {
                        let zeros = Array(expected.data[(t * c)..<(2 * t * c)])
                        XCTAssertEqual(zeros, [Float](repeating: 0, count: t * c), "L = 0 gives zeros, \(label)")
                    }
                }
            }
        }
    }

    /// Separate q, k, v with S != T (the Tensor-level entry point) and one thread.
    private func checkCross() {
        var rng = SeededRandom(seed: 75)
        for (t, s, heads, d) in [(3, 7, 2, 16), (7, 50, 4, 64), (50, 3, 12, 32)] {
            let c = heads * d
            let q = randomTensor([2, t, c], &rng), k = randomTensor([2, s, c], &rng), v = randomTensor([2, s, c], &rng)
            for causal in [false, true] {
                for valid in [nil, [s, max(1, s / 2)]] {
                    let fast = attention(query: q, key: k, value: v, heads: heads, causal: causal, validLengths: valid)
                    let slow = NaiveKernels.attention(query: q, key: k, value: v, heads: heads, causal: causal,
                                                      validLengths: valid)
                    assertClose(fast.data, slow.data, absolute: 1e-5, relative: 1e-4, "T\(t) S\(s) H\(heads) d\(d)")
                }
            }
        }
    }
}
