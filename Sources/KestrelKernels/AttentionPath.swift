import CBLAS
import CKernels

/// How attention computes each (batch, head): `direct` is CKernels' SIMD kernel (keys transposed
/// into scratch, scores W at a time, no GEMM calls); `sgemm` is two OpenBLAS products around a C
/// softmax; `swiftSGEMM` is the previous path (the products around the Swift SIMD softmax), kept
/// as the benchmark's baseline. `automatic` takes `direct` up to `directAttentionMaxKeys` keys.
public enum AttentionPath: String, Sendable, CaseIterable {
    case automatic, direct, sgemm, swiftSGEMM
}

/// Longest key sequence `automatic` gives to the direct kernel. Measured with `kestrel-bench
/// kernels` (docs/benchmarks.md, "Row kernels in C"): direct is on a par with sgemm at T = 50-257
/// and ahead at text T = 77; beyond about 300 keys its transposed keys outgrow the L1/L2 caches.
public let directAttentionMaxKeys = 320

/// Strided operands of one attention call: row i of batch b's queries is q + (b t + i) ldq,
/// key/value rows k/v + (b s + j) ldkv, output rows out + (b t + i) ldo; head h at columns h d.
struct AttentionOperands: @unchecked Sendable {
    let q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>
    let out: UnsafeMutablePointer<Float>
    let ldq: Int, ldkv: Int, ldo: Int
    let batch: Int, t: Int, s: Int, heads: Int, d: Int
    let causal: Bool
    /// Valid key count per batch item, or empty for all `s`.
    let lengths: [Int]
}

/// Runs every (batch, head) task of `op` over at most `threads` threads.
func runAttention(_ op: AttentionOperands, path: AttentionPath, threads: Int) {
    guard op.batch > 0, op.t > 0, op.s > 0, op.heads > 0, op.d > 0 else { return }
    let direct = path == .direct || (path == .automatic && op.s <= directAttentionMaxKeys)
    let work = 4 * op.t * op.s * op.d
    if direct {
        // The direct kernel: about 2 t s d multiply-adds per task, a few microseconds at text sizes,
        // which a second thread would not pay for.
        parallelRanges(op.batch * op.heads, workPerItem: work / 2, threads: threads) { tasks in
            let status = op.lengths.withUnsafeBufferPointer { lb in
                ck_attention(op.q, op.k, op.v, op.out, op.ldq, op.ldkv, op.ldo, op.t, op.s, op.heads, op.d,
                             op.causal ? 1 : 0, op.lengths.isEmpty ? nil : lb.baseAddress,
                             tasks.lowerBound, tasks.upperBound)
            }
            if status != 0 { attentionBySGEMM(op, tasks: tasks, swiftSoftmax: false) }  // no scratch memory
        }
    } else {
        parallelRanges(op.batch * op.heads, workPerItem: work, threads: threads, callsBLAS: true) { tasks in
            attentionBySGEMM(op, tasks: tasks, swiftSoftmax: path == .swiftSGEMM)
        }
    }
}

/// Tasks `tasks` of `op` as scores = q k^T / sqrt(d) and probs v on sgemm.
func attentionBySGEMM(_ op: AttentionOperands, tasks: Range<Int>, swiftSoftmax: Bool) {
    let t = op.t, s = op.s, d = op.d
    let alpha = 1 / Float(d).squareRoot()
    let scores = UnsafeMutablePointer<Float>.allocate(capacity: t * s)
    defer { scores.deallocate() }
    for task in tasks {
        let b = task / op.heads, h = task % op.heads
        let keys = op.lengths.isEmpty ? s : min(s, max(0, op.lengths[b]))
        let ob = op.out + b * t * op.ldo + h * d
        guard keys > 0 else {
            for i in 0..<t { (ob + i * op.ldo).update(repeating: 0, count: d) }
            continue
        }
        let qp = op.q + b * t * op.ldq + h * d
        let kp = op.k + b * s * op.ldkv + h * d, vp = op.v + b * s * op.ldkv + h * d
        // scores[T, keys] = q[T, d] k[keys, d]^T / sqrt(d)
        sgemm(m: t, n: keys, k: d, alpha: alpha, a: qp, lda: op.ldq, b: kp, ldb: op.ldkv, transB: true,
              c: scores, ldc: keys)
        for i in 0..<t {
            let row = scores + i * keys
            let visible = op.causal ? min(keys, i + 1) : keys
            if swiftSoftmax { softmaxRow(row, visible) } else { ck_softmax_rows(row, 0, 1, visible) }
            if visible < keys { (row + visible).update(repeating: 0, count: keys - visible) }
        }
        // out[T, d] = probs[T, keys] v[keys, d], written into this head's columns.
        sgemm(m: t, n: d, k: keys, a: scores, lda: keys, b: vp, ldb: op.ldkv, transB: false, c: ob, ldc: op.ldo)
    }
}
