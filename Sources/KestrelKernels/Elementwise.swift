// Elementwise arithmetic, in place.

/// x += y (same shape).
public func add(_ x: inout Tensor, _ y: Tensor) {
    precondition(x.shape == y.shape, "add: shape \(x.shape) vs \(y.shape)")
    let n = x.count
    y.data.withUnsafeBufferPointer { yb in
        x.data.withUnsafeMutableBufferPointer { xb in
            guard let xBase = xb.baseAddress, let yBase = yb.baseAddress else { return }
            addInPlace(xBase, yBase, count: n)
        }
    }
}

/// x[..., c] += bias[c] over the last dimension.
public func addBias(_ x: inout Tensor, _ bias: Tensor) {
    let c = x.lastDim
    precondition(bias.count == c, "addBias: bias has \(bias.count) values, last dimension is \(c)")
    let rows = x.rows
    bias.data.withUnsafeBufferPointer { bb in
        x.data.withUnsafeMutableBufferPointer { xb in
            guard let xBase = xb.baseAddress, let bBase = bb.baseAddress else { return }
            let p = SharedPointer(xBase), q = SharedConstPointer(bBase)
            parallelRanges(rows, workPerItem: c) { r in
                for row in r {
                    let dst = p.base + row * c
                    for j in 0..<c { dst[j] += q.base[j] }
                }
            }
        }
    }
}

/// x *= factor.
public func scale(_ x: inout Tensor, by factor: Float) {
    forEachChunk(&x, workPerElement: 1) { p, n in
        for i in 0..<n { p[i] *= factor }
    }
}
