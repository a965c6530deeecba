// Multi-head self-attention on a fused q|k|v projection, forward and backward, per (batch, head):
//   S = Q K^T / √d;  P = softmax(S) over the allowed keys (prefix j < min(L_b, causal ? i+1 : T));
//   O = P V.  Backward: dP = dO V^T;  dV += P^T dO;  dS = P ⊙ (dP - rowsum(dP ⊙ P));
//   dQ += dS K / √d;  dK += dS^T Q / √d  (masked entries have P = 0, hence dS = 0).
// The (batch, head) items run in parallel, each on single-threaded OpenBLAS with strided operands
// (leading dimension 3W into qkv), as `batchedMatmul` does.

extension TrainOps {
    // MARK: Multi-head self-attention on a fused projection

    /// qkv[B, T, 3W] (q | k | v column blocks, heads of W/heads inside each) -> out[B, T, W];
    /// writes probs[B, heads, T, T] (the softmax of q·k^T/sqrt(d), zero where masked).
    /// `causal`: token i sees j <= i. `validLengths` (nil: all T): keys j >= validLengths[b] are
    /// masked (padding); query rows at or past validLengths[b] get out = 0 and probs = 0.
    /// validLengths values are clamped to 0...T.
    public static func attentionForward(
        out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
        batch: Int, tokens: Int, width: Int, heads: Int, causal: Bool, validLengths: [Int]?
    ) {
        let T = tokens, W = width
        guard batch > 0, T > 0, heads > 0, W > 0 else { return }
        let d = W / heads
        let scale = 1 / Float(d).squareRoot()
        let lengths = (0..<batch).map { b in min(T, max(0, validLengths.map { b < $0.count ? $0[b] : T } ?? T)) }
        let op = TrainMut(out), pp = TrainMut(probs), qp = TrainConst(qkv)
        parallelRanges(batch * heads, workPerItem: 4 * T * T * d, callsBLAS: true) { range in
            for item in range {
                let b = item / heads, h = item % heads
                let L = lengths[b]
                let base = qp.p + b * T * 3 * W
                let Q = base + h * d, K = base + W + h * d, V = base + 2 * W + h * d
                let P = pp.p + item * T * T
                let O = op.p + b * T * W + h * d
                trainGEMM(m: L, n: L, k: d, alpha: scale, a: Q, lda: 3 * W, transA: false,
                          b: K, ldb: 3 * W, transB: true, beta: 0, c: P, ldc: T)
                for i in 0..<T {
                    let row = P + i * T
                    let n = i < L ? (causal ? min(i + 1, L) : L) : 0
                    if n > 0 { softmaxRow(row, row, n) }
                    if n < T { (row + n).update(repeating: 0, count: T - n) }
                }
                trainGEMM(m: L, n: d, k: L, a: P, lda: T, transA: false,
                          b: V, ldb: 3 * W, transB: false, beta: 0, c: O, ldc: W)
                for i in L..<T { (O + i * W).update(repeating: 0, count: d) }
            }
        }
    }

    /// dqkv[B, T, 3W] += the gradient of out with respect to qkv, from dOut[B, T, W] and the
    /// forward's qkv and probs (masks are carried by the zeros in probs).
    public static func attentionBackward(
        dqkv: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
        probs: UnsafePointer<Float>, batch: Int, tokens: Int, width: Int, heads: Int
    ) {
        let T = tokens, W = width
        guard batch > 0, T > 0, heads > 0, W > 0 else { return }
        let d = W / heads
        let scale = 1 / Float(d).squareRoot()
        let gp = TrainMut(dqkv), dop = TrainConst(dOut), qp = TrainConst(qkv), pp = TrainConst(probs)
        parallelRanges(batch * heads, workPerItem: 8 * T * T * d, callsBLAS: true) { range in
            let dS = UnsafeMutablePointer<Float>.allocate(capacity: T * T)
            defer { dS.deallocate() }
            for item in range {
                let b = item / heads, h = item % heads
                let base = qp.p + b * T * 3 * W, gbase = gp.p + b * T * 3 * W
                let Q = base + h * d, K = base + W + h * d, V = base + 2 * W + h * d
                let dQ = gbase + h * d, dK = gbase + W + h * d, dV = gbase + 2 * W + h * d
                let P = pp.p + item * T * T
                let dO = dop.p + b * T * W + h * d
                // dP[T, T] = dO · V^T
                trainGEMM(m: T, n: T, k: d, a: dO, lda: W, transA: false,
                          b: V, ldb: 3 * W, transB: true, beta: 0, c: dS, ldc: T)
                // dV += P^T · dO
                trainGEMM(m: T, n: d, k: T, a: P, lda: T, transA: true,
                          b: dO, ldb: W, transB: false, beta: 1, c: dV, ldc: 3 * W)
                // dS = P ⊙ (dP - rowsum(dP ⊙ P))
                for i in 0..<T {
                    let pr = P + i * T, sr = dS + i * T
                    var dot: Float = 0
                    for j in 0..<T { dot += pr[j] * sr[j] }
                    for j in 0..<T { sr[j] = pr[j] * (sr[j] - dot) }
                }
                // dQ += scale · dS · K;  dK += scale · dS^T · Q
                trainGEMM(m: T, n: d, k: T, alpha: scale, a: dS, lda: T, transA: false,
                          b: K, ldb: 3 * W, transB: false, beta: 1, c: dQ, ldc: 3 * W)
                trainGEMM(m: T, n: d, k: T, alpha: scale, a: dS, lda: T, transA: true,
                          b: Q, ldb: 3 * W, transB: false, beta: 1, c: dK, ldc: 3 * W)
            }
        }
    }
}
