import CBLAS

// Internal machinery the training kernels share: BLAS products with either operand transposed and
// accumulation (beta), and a chunked parallel loop that tells each body its chunk index (for
// per-chunk partial sums of weight gradients, reduced after the loop).

/// C[M,N] = alpha · op(A) · op(B) + beta · C, row-major. `transA`: A is stored [K, M]; `transB`: B is
/// stored [N, K]. beta = 1 accumulates (the backward passes). Does nothing when M or N is zero; scales
/// C by beta when K is zero.
@inline(__always)
func trainGEMM(
    m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, transA: Bool,
    b: UnsafePointer<Float>, ldb: Int, transB: Bool,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
        return
    }
    cblas_sgemm(
        CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// The number of chunks a row loop of `count` items of `workPerItem` element-operations splits into
/// (1 when too small to pay for the dispatch), at most `Kernels.threads`.
@inline(__always)
func trainChunks(_ count: Int, workPerItem: Int) -> Int {
    guard count > 0 else { return 1 }
    let total = count.multipliedReportingOverflow(by: max(1, workPerItem))
    let byWork = total.overflow ? Int.max : total.partialValue / parallelMinimumWork
    return max(1, min(count, Kernels.threads, byWork))
}

/// Calls `body(chunk, range)` for `chunks` contiguous disjoint ranges covering `0..<count`,
/// concurrently on the OpenMP row pool when `chunks > 1`.
@inline(__always)
func trainParallel(_ count: Int, chunks: Int, _ body: @Sendable (Int, Range<Int>) -> Void) {
    guard count > 0 else { return }
    let n = max(1, min(chunks, count))
    if n == 1 { body(0, 0..<count); return }
    OpenMPRows.forEach(n, threads: n) { r in
        for c in r { body(c, (count * c / n)..<(count * (c + 1) / n)) }
    }
}

/// `trainParallel` over rows with the chunk count sized by work (see `trainChunks`).
@inline(__always)
func trainRows(_ count: Int, workPerItem: Int, _ body: @Sendable (Range<Int>) -> Void) {
    trainParallel(count, chunks: trainChunks(count, workPerItem: workPerItem)) { _, r in body(r) }
}

/// A read-only pointer for concurrent closures (disjoint writes make the unchecked Sendable sound).
struct TrainConst: @unchecked Sendable {
    let p: UnsafePointer<Float>
    init(_ p: UnsafePointer<Float>) { self.p = p }
}

/// A writable pointer for concurrent closures (each task writes a disjoint part).
struct TrainMut: @unchecked Sendable {
    let p: UnsafeMutablePointer<Float>
    init(_ p: UnsafeMutablePointer<Float>) { self.p = p }
}

/// An optional writable pointer for concurrent closures.
struct TrainOptMut: @unchecked Sendable {
    let p: UnsafeMutablePointer<Float>?
    init(_ p: UnsafeMutablePointer<Float>?) { self.p = p }
}
