import KestrelKernels
import XCTest

/// Attention on a fused qkv: 3 heads × head dim 5, 11 tokens, batch 2; plain, causal, and with
/// validLengths padding (one full, one short sequence).
final class TrainAttentionTests: XCTestCase {
    let batch = 2, tokens = 11, heads = 3, headDim = 5
    var width: Int { heads * headDim }

    struct Case { let causal: Bool; let lengths: [Int]? }
    let cases = [Case(causal: false, lengths: nil), Case(causal: true, lengths: nil),
                 Case(causal: false, lengths: [11, 6]), Case(causal: true, lengths: [4, 11])]

    func forward(_ qkv: [Float], _ c: Case, fast: Bool) -> (out: [Float], probs: [Float]) {
        var out = [Float](repeating: .nan, count: batch * tokens * width)
        var probs = [Float](repeating: .nan, count: batch * heads * tokens * tokens)
        if fast {
            TrainOps.attentionForward(out: &out, probs: &probs, qkv: qkv, batch: batch, tokens: tokens, width: width,
                                      heads: heads, causal: c.causal, validLengths: c.lengths)
        } else {
            NaiveTrainOps.attentionForward(out: &out, probs: &probs, qkv: qkv, batch: batch, tokens: tokens, width: width,
                                           heads: heads, causal: c.causal, validLengths: c.lengths)
        }
        return (out, probs)
    }

    func backward(_ qkv: [Float], _ probs: [Float], dOut: [Float], fast: Bool, times: Int = 1) -> [Float] {
        var d = [Float](repeating: 0, count: batch * tokens * 3 * width)
        for _ in 0..<times {
            if fast {
                TrainOps.attentionBackward(dqkv: &d, dOut: dOut, qkv: qkv, probs: probs, batch: batch, tokens: tokens, width: width, heads: heads)
            } else {
                NaiveTrainOps.attentionBackward(dqkv: &d, dOut: dOut, qkv: qkv, probs: probs, batch: batch, tokens: tokens, width: width, heads: heads)
            }
        }
        return d
    }

    var qkv: [Float] { trainRandom(batch * tokens * 3 * width, seed: 51, scale: 1.5) }

    func testAttentionForwardMatchesNaive() {
        for c in cases {
            let f = forward(qkv, c, fast: true), n = forward(qkv, c, fast: false)
            assertAllClose(f.out, n.out, atol: 1e-5, rtol: 1e-5, "out \(c)")
            assertAllClose(f.probs, n.probs, atol: 1e-6, rtol: 1e-5, "probs \(c)")
        }
    }

    func testAttentionMasksGiveZeroProbabilitiesAndPaddedRows() {
        let c = Case(causal: true, lengths: [11, 6])
        let f = forward(qkv, c, fast: true)
        for b in 0..<batch {
            let L = c.lengths![b]
            for h in 0..<heads {
                for i in 0..<tokens {
                    var rowSum: Float = 0
                    for j in 0..<tokens {
                        let p = f.probs[((b * heads + h) * tokens + i) * tokens + j]
                        if j > i || j >= L || i >= L { XCTAssertEqual(p, 0, "b \(b) h \(h) i \(i) j \(j)") }
                        rowSum += p
                    }
                    XCTAssertEqual(rowSum, i < L ? 1 : 0, accuracy: 1e-5)
                }
            }
            for i in L..<tokens { for c in 0..<width { XCTAssertEqual(f.out[(b * tokens + i) * width + c], 0) } }
        }
    }

    func testAttentionBackwardMatchesNaive() {
        let dOut = trainRandom(batch * tokens * width, seed: 52)
        for c in cases {
            let f = forward(qkv, c, fast: true)
            assertAllClose(backward(qkv, f.probs, dOut: dOut, fast: true), backward(qkv, f.probs, dOut: dOut, fast: false),
                           atol: 1e-5, rtol: 1e-4, "dqkv \(c)")
        }
    }

    func testAttentionBackwardMatchesFiniteDifferences() {
        let r = trainRandom(batch * tokens * width, seed: 53)
        for c in cases {
            let f = forward(qkv, c, fast: true)
            let g = backward(qkv, f.probs, dOut: r, fast: true)
            checkFiniteDifferences("attention \(c)", inputs: [qkv], analytic: [g], r: r, samples: 120) { v in
                self.forward(v[0], c, fast: false).out
            }
        }
    }

    func testAttentionBackwardAccumulates() {
        let dOut = trainRandom(batch * tokens * width, seed: 54)
        let f = forward(qkv, Case(causal: true, lengths: [9, 11]), fast: true)
        let once = backward(qkv, f.probs, dOut: dOut, fast: true), twice = backward(qkv, f.probs, dOut: dOut, fast: true, times: 2)
        assertAllClose(twice, once.map { 2 * $0 }, atol: 1e-6, rtol: 1e-5, "attention twice")
    }

    /// The default model's vision shape (T = 50, 4 heads × 64) at batch 3: the parallel
    /// (batch, head) split with single-threaded BLAS agrees with the naive twin.
    func testAttentionAtModelShapeMatchesNaive() {
        let b = 3, t = 50, h = 4, w = 256
        let q = trainRandom(b * t * 3 * w, seed: 55), dOut = trainRandom(b * t * w, seed: 56)
        var fo = [Float](repeating: 0, count: b * t * w), no = fo
        var fp = [Float](repeating: 0, count: b * h * t * t), np = fp
        TrainOps.attentionForward(out: &fo, probs: &fp, qkv: q, batch: b, tokens: t, width: w, heads: h, causal: false, validLengths: nil)
        NaiveTrainOps.attentionForward(out: &no, probs: &np, qkv: q, batch: b, tokens: t, width: w, heads: h, causal: false, validLengths: nil)
        assertAllClose(fo, no, atol: 1e-5, rtol: 1e-4, "out")
        var fd = [Float](repeating: 0, count: b * t * 3 * w), nd = fd
        TrainOps.attentionBackward(dqkv: &fd, dOut: dOut, qkv: q, probs: np, batch: b, tokens: t, width: w, heads: h)
        NaiveTrainOps.attentionBackward(dqkv: &nd, dOut: dOut, qkv: q, probs: np, batch: b, tokens: t, width: w, heads: h)
        assertAllClose(fd, nd, atol: 1e-5, rtol: 1e-4, "dqkv")
    }
}
