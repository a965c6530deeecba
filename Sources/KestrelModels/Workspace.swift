import Foundation

/// The activation buffers of one forward pass through a tower, reused from layer to layer and
/// from call to call (no allocation per op). Three row-major regions, sized for the call:
///
///     x    [R, W]               the residual stream (R = batch * tokens)
///     h    [R, W]               LayerNorm output, attention output, patch products
///     wide [R, max(3W, M, K)]   the fused q|k|v product, the MLP's hidden layer, im2col (K = 3 P P)
///
/// A workspace is used by one forward at a time: `WorkspacePool` hands them out.
final class ForwardWorkspace {
    private(set) var x: UnsafeMutablePointer<Float>
    private(set) var h: UnsafeMutablePointer<Float>
    private(set) var wide: UnsafeMutablePointer<Float>
    private var capacity = (x: 0, h: 0, wide: 0)

    init() {
        x = .allocate(capacity: 1); h = .allocate(capacity: 1); wide = .allocate(capacity: 1)
    }

    deinit { x.deallocate(); h.deallocate(); wide.deallocate() }

    /// Bytes held.
    var bytes: Int { 4 * (capacity.x + capacity.h + capacity.wide) }

    /// Makes each region hold at least the given number of floats (grows, never shrinks; the
    /// contents are not kept).
    func reserve(x nx: Int, h nh: Int, wide nw: Int) {
        if nx > capacity.x { x.deallocate(); x = .allocate(capacity: nx); capacity.x = nx }
        if nh > capacity.h { h.deallocate(); h = .allocate(capacity: nh); capacity.h = nh }
        if nw > capacity.wide { wide.deallocate(); wide = .allocate(capacity: nw); capacity.wide = nw }
    }
}

/// A small pool of workspaces shared by the threads that call one tower: each forward checks one
/// out (or makes one when all are in use) and returns it, so concurrent calls never share buffers
/// and sequential calls reuse them. At most `keep` idle workspaces are kept.
final class WorkspacePool: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [ForwardWorkspace] = []
    let keep: Int

    init(keep: Int = max(2, ProcessInfo.processInfo.activeProcessorCount)) { self.keep = keep }

    /// Runs `body` with a workspace no other call is using.
    func withWorkspace<T>(_ body: (ForwardWorkspace) throws -> T) rethrows -> T {
        let ws = lock.withLock { idle.popLast() } ?? ForwardWorkspace()
        defer { lock.withLock { if idle.count < keep { idle.append(ws) } } }
        return try body(ws)
    }

    /// Bytes held by idle workspaces (for memory accounting).
    var idleBytes: Int { lock.withLock { idle.reduce(0) { $0 + $1.bytes } } }
}
