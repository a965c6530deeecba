import Foundation

extension HeatMap {
    /// The map's value at a point of the original picture (pixels, x right, y down), by bilinear
    /// interpolation between cell centres (PyTorch's `interpolate(mode="bilinear",
    /// align_corners=False)`: cell (i, j) sits at its centre, values past the outer centres are
    /// the edge cells').
    public func value(x: Double, y: Double) -> Float {
        guard gridWidth > 0, gridHeight > 0, values.count == gridWidth * gridHeight else { return 0 }
        let rw = max(region.width, 1e-9), rh = max(region.height, 1e-9)
        let u = (x - region.x0) / rw * Double(gridWidth) - 0.5
        let v = (y - region.y0) / rh * Double(gridHeight) - 0.5
        let uc = min(max(u, 0), Double(gridWidth - 1)), vc = min(max(v, 0), Double(gridHeight - 1))
        let i0 = Int(uc), j0 = Int(vc)
        let i1 = min(i0 + 1, gridWidth - 1), j1 = min(j0 + 1, gridHeight - 1)
        let fu = Float(uc - Double(i0)), fv = Float(vc - Double(j0))
        let a = values[j0 * gridWidth + i0], b = values[j0 * gridWidth + i1]
        let c = values[j1 * gridWidth + i0], d = values[j1 * gridWidth + i1]
        return (a * (1 - fu) + b * fu) * (1 - fv) + (c * (1 - fu) + d * fu) * fv
    }

    /// The map sampled at the centres of a `width` x `height` raster laid over `region`
    /// (row-major), bilinear as `value(x:y:)`.
    public func upsampled(width: Int, height: Int) -> [Float] {
        var out = [Float](repeating: 0, count: max(width, 0) * max(height, 0))
        guard width > 0, height > 0 else { return out }
        let sx = region.width / Double(width), sy = region.height / Double(height)
        for r in 0..<height {
            let y = region.y0 + (Double(r) + 0.5) * sy
            for c in 0..<width { out[r * width + c] = value(x: region.x0 + (Double(c) + 0.5) * sx, y: y) }
        }
        return out
    }

    /// The cell with the highest value: its centre in picture pixels (the pointing game's point),
    /// cell (i, j) -> x = x0 + (i + 0.5)·w/gridWidth, y = y0 + (j + 0.5)·h/gridHeight; the first
    /// cell in row-major order on ties; NaN cells skipped. nil for an empty, misshapen or all-NaN map.
    public var peak: (x: Double, y: Double, value: Float)? {
        guard gridWidth >= 1, gridHeight >= 1, values.count == gridWidth * gridHeight else { return nil }
        var best = -1, bestValue = -Float.infinity
        for (k, v) in values.enumerated() where !v.isNaN && (best < 0 || v > bestValue) { best = k; bestValue = v }
        guard best >= 0 else { return nil }
        let (i, j) = (best % gridWidth, best / gridWidth)
        return (region.x0 + (Double(i) + 0.5) * region.width / Double(gridWidth),
                region.y0 + (Double(j) + 0.5) * region.height / Double(gridHeight), values[best])
    }
}
