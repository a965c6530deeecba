import CDNNL

/// Row loops on the OpenMP thread pool that oneDNN's products run on (libgomp), instead of Swift
/// Dispatch threads.
///
/// Why: after a oneDNN product, libgomp's workers keep spinning for a while (OMP_WAIT_POLICY,
/// GOMP_SPINCOUNT; read once when libgomp loads, so not settable from inside the process). An
/// element-wise pass on Dispatch threads in that window competes with them for the cores (2 here).
/// Run on the same pool, the spinning workers pick the work up instead.
///
/// Usage: `OpenMPRows.forEach(rows, threads: n) { range in for r in range { ... } }`. `body` runs
/// concurrently on disjoint, contiguous ranges covering `0..<count` (at most `threads` of them, one
/// on the calling thread) and must only write rows of its own range. Returns when all are done.
/// Calls may nest inside a oneDNN product's caller but not inside another `forEach` body (a nested
/// region runs on one thread). Without oneDNN (no OpenMP pool in use) it still works: libgomp
/// starts its pool on first use.
public enum OpenMPRows {
    /// `forEach` split into exactly `chunks` ranges (at most `count`), as `parallelRanges` sizes them.
    static func forEach(_ count: Int, chunks: Int, _ body: @Sendable (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let n = min(count, max(1, chunks))
        if n <= 1 { body(0..<count); return }
        forEach(n, threads: n) { r in
            for c in r { body((count * c / n)..<(count * (c + 1) / n)) }
        }
    }

    public static func forEach(_ count: Int, threads: Int, _ body: @Sendable (Range<Int>) -> Void) {
        guard count > 0 else { return }
        if threads <= 1 || count == 1 { body(0..<count); return }
        withoutActuallyEscaping(body) { escapable in
            var box = escapable
            withUnsafeMutablePointer(to: &box) { p in
                cdnnl_parallel_for(Int64(count), Int32(min(threads, 1024)), { ctx, begin, end in
                    let f = ctx!.assumingMemoryBound(to: (@Sendable (Range<Int>) -> Void).self).pointee
                    f(Int(begin)..<Int(end))
                }, p)
            }
        }
    }
}

/// libgomp's wait policy (how long OpenMP workers spin after a product before sleeping).
///
/// Measured on this project's 2-core machine under load (docs/benchmarks.md, "int8 on brgemm and
/// the OpenMP wait policy"): libgomp's default spinning made a ViT layer at M=50 2.5-5x slower
/// than OMP_WAIT_POLICY=passive and never faster; at M=1600 the two were within noise. The policy
/// is read when libgomp loads, so the only in-process control is to restart the process with it set.
public enum OpenMPWaitPolicy {
    /// When neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set (and KESTREL_OMP_REEXEC is not "0"),
    /// re-executes this program (/proc/self/exe, same arguments) with OMP_WAIT_POLICY=passive.
    /// Does not return in that case; returns false if the restart failed, true if nothing was
    /// needed. Call first thing in `main`, before any thread or file is opened.
    @discardableResult
    public static func restartPassiveIfUnset() -> Bool {
        cdnnl_reexec_with_passive_wait(CommandLine.unsafeArgv) == 0
    }
}
