import CBLAS
import Dispatch
import Foundation

// Thread control and the small amount of machinery that splits row-wise work over cores.

/// Global kernel settings. `threads` bounds both our own row splitting and OpenBLAS.
public enum Kernels {
    /// Worker threads for kernels (default: active processor count). Setting it also calls
    /// `openblas_set_num_threads`. Safe to read from any thread; set it at start-up.
    public static var threads: Int {
        get { settings.threads }
        set { settings.setThreads(newValue) }
    }
}

/// Lock-protected storage behind `Kernels.threads` (Swift 6: no unguarded global mutable state).
private final class KernelSettings: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int
    /// Parallel regions currently running their own GEMMs with OpenBLAS held to one thread.
    private var singleThreadedRegions = 0

    init() {
        value = max(1, ProcessInfo.processInfo.activeProcessorCount)
        openblas_set_num_threads(Int32(value))
    }

    var threads: Int { lock.withLock { value } }

    func setThreads(_ n: Int) {
        precondition(n >= 1, "Kernels.threads must be at least 1, got \(n)")
        lock.withLock {
            value = n
            if singleThreadedRegions == 0 { openblas_set_num_threads(Int32(n)) }
        }
    }

    /// While our own threads each run a GEMM, OpenBLAS must not also fan out: two callers
    /// each asking its (shared) thread pool for every core made attention 40x slower on 2 cores.
    /// Nested and concurrent regions are counted; the last one out restores `threads`.
    func enterSingleThreadedBLAS() {
        lock.withLock {
            singleThreadedRegions += 1
            if singleThreadedRegions == 1 && value > 1 { openblas_set_num_threads(1) }
        }
    }

    func exitSingleThreadedBLAS() {
        lock.withLock {
            singleThreadedRegions -= 1
            if singleThreadedRegions == 0 && value > 1 { openblas_set_num_threads(Int32(value)) }
        }
    }
}

private let settings = KernelSettings()

/// A pointer handed to `concurrentPerform` closures. Every task touches a disjoint range,
/// which is what makes the `@unchecked Sendable` sound.
struct SharedPointer: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    init(_ base: UnsafeMutablePointer<Float>) { self.base = base }
}

/// A read-only pointer for `concurrentPerform` closures.
struct SharedConstPointer: @unchecked Sendable {
    let base: UnsafePointer<Float>
    init(_ base: UnsafePointer<Float>) { self.base = base }
}

/// Below this much work (in rough element-operations) a kernel stays on the calling thread:
/// dispatching to another core costs some microseconds.
let parallelMinimumWork = 1 << 16

/// Calls `body` on contiguous, disjoint sub-ranges covering `0..<count`, one per thread when
/// `count * workPerItem` is big enough to pay for the dispatch, otherwise once on this thread.
/// Set `callsBLAS` when `body` runs GEMMs: OpenBLAS is then held to one thread while split.
@inline(__always)
func parallelRanges(
    _ count: Int, workPerItem: Int, callsBLAS: Bool = false, _ body: @Sendable (Range<Int>) -> Void
) {
    parallelRanges(count, workPerItem: workPerItem, threads: Kernels.threads, callsBLAS: callsBLAS, body)
}

/// `parallelRanges` over at most `threads` threads (the per-call thread count of the pointer-level
/// kernels; values below 1 count as 1).
@inline(__always)
func parallelRanges(
    _ count: Int, workPerItem: Int, threads: Int, callsBLAS: Bool = false, _ body: @Sendable (Range<Int>) -> Void
) {
    guard count > 0 else { return }
    let total = count.multipliedReportingOverflow(by: max(1, workPerItem))
    let byWork = total.overflow ? Int.max : total.partialValue / parallelMinimumWork
    let chunks = min(count, max(1, threads), byWork)
    if chunks <= 1 { body(0..<count); return }
    // Row loops run on the OpenMP pool that oneDNN's products use: its workers, still spinning
    // after a product, take the rows instead of competing with Dispatch threads for the cores.
    if !callsBLAS { OpenMPRows.forEach(count, chunks: chunks, body); return }
    if callsBLAS { settings.enterSingleThreadedBLAS() }
    defer { if callsBLAS { settings.exitSingleThreadedBLAS() } }
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        body((count * c / chunks)..<(count * (c + 1) / chunks))
    }
}

/// Runs `body(pointer, length)` over chunks of the tensor's elements, in parallel when big.
@inline(__always)
func forEachChunk(_ x: inout Tensor, workPerElement: Int, _ body: @Sendable (UnsafeMutablePointer<Float>, Int) -> Void) {
    let n = x.count
    x.data.withUnsafeMutableBufferPointer { buf in
        guard let base = buf.baseAddress else { return }
        let p = SharedPointer(base)
        parallelRanges(n, workPerItem: workPerElement) { r in body(p.base + r.lowerBound, r.count) }
    }
}

// MARK: - SIMD row helpers (unaligned loads; scalar tails).

@inline(__always)
func simdSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    let raw = UnsafeRawPointer(p)
    var acc = SIMD16<Float>()
    var i = 0
    while i + 16 <= n { acc += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self); i += 16 }
    var s = acc.sum()
    while i < n { s += p[i]; i += 1 }
    return s
}

/// Sum of (p[i] - shift)^2.
@inline(__always)
func simdSumSquares(_ p: UnsafePointer<Float>, _ n: Int, shift: Float = 0) -> Float {
    let raw = UnsafeRawPointer(p)
    var acc = SIMD16<Float>()
    let m = SIMD16<Float>(repeating: shift)
    var i = 0
    while i + 16 <= n {
        let d = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) - m
        acc += d * d
        i += 16
    }
    var s = acc.sum()
    while i < n { let d = p[i] - shift; s += d * d; i += 1 }
    return s
}

@inline(__always)
func simdMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    let raw = UnsafeRawPointer(p)
    var i = 0
    var s = -Float.infinity
    if n >= 16 {
        var acc = SIMD16<Float>(repeating: -.infinity)
        while i + 16 <= n {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            acc.replace(with: v, where: v .> acc)  // pointwiseMax does not vectorise
            i += 16
        }
        s = acc.max()
    }
    while i < n { s = max(s, p[i]); i += 1 }
    return s
}
