import KestrelKernels
import KestrelTestSupport
import XCTest

/// attentionPooled (one query row per batch item: the rows a tower pools) against the same rows of
/// NaiveKernels.attention(qkv:...) (Double), causal and not, at every position including the first
/// and the last. Tolerance as in CAttentionTests: 1e-5 absolute + 1e-4 relative.
final class PooledAttentionTests: XCTestCase {
    func testPooledRowsEqualTheFullAttentionsRows() {
        var rng = SeededRandom(seed: 91)
        for (t, heads, d) in [(1, 1, 64), (7, 8, 64), (50, 12, 64), (77, 8, 64), (9, 2, 5)] {
            let batch = 4, c = heads * d
            let qkv = randomTensor([batch, t, 3 * c], &rng, scale: 1.5)
            let positions = [0, t - 1, t / 2, max(0, t - 2)]
            for causal in [false, true] {
                let full = NaiveKernels.attention(qkv: qkv, heads: heads, causal: causal)   // [B, T, C]
                var pooled = [Float](repeating: .nan, count: batch * c)
                qkv.data.withUnsafeBufferPointer { q in
                    pooled.withUnsafeMutableBufferPointer { o in
                        attentionPooled(qkv: q.baseAddress!, batch: batch, tokens: t, heads: heads, headDim: d,
                                        positions: positions, causal: causal, into: o.baseAddress!, threads: 2)
                    }
                }
                var want: [Float] = []
                for b in 0..<batch {
                    let row: Int = b * t + positions[b]
                    want += full.data[(row * c)..<((row + 1) * c)]
                }
                assertClose(pooled, want, "T\(t) H\(heads) d\(d) causal \(causal) positions \(positions)")
            }
        }
    }
}
