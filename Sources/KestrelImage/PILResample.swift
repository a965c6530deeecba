import Foundation

/// Pillow's resampling filters that CLIP preprocessing uses.
public enum ResampleFilter: String, Sendable {
    case bilinear, bicubic

    var support: Double { self == .bilinear ? 1.0 : 2.0 }

    @inline(__always) func weight(_ x0: Double) -> Double {
        let x = abs(x0)
        switch self {
        case .bilinear:
            return x < 1.0 ? 1.0 - x : 0.0
        case .bicubic:  // Keys cubic, a = -0.5, written as in Pillow's Resample.c
            let a = -0.5
            if x < 1.0 { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1 }
            if x < 2.0 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0.0
        }
    }
}

/// A port of Pillow's `libImaging/Resample.c` (antialiased convolution resize) and of the
/// nearest-neighbour scale in `Geometry.c`. Every rounding step is Pillow's, so 8-bit results
/// are bit-identical: coefficients normalised in double, then fixed-point with 22 fraction
/// bits; the passes in Pillow 13's order (see `verticalFirst`; when the horizontal pass is first
/// it covers only the rows the vertical pass reads), a clipped uint8 between passes; a pass is
/// skipped when its size does not change.
enum PILResample {
    static let precisionBits = 22

    struct Coefficients {
        var ksize: Int
        var bounds: [Int]  // (xmin, count) per output sample
        var weights: [Double]  // outSize * ksize, zero-padded
    }

    /// Pillow's `precompute_coeffs` for the full box (0, inSize).
    static func coefficients(inSize: Int, outSize: Int, filter: ResampleFilter) -> Coefficients {
        coefficients(inSize: inSize, in0: 0, in1: Double(inSize), outSize: outSize, filter: filter)
    }

    /// Pillow's `precompute_coeffs` for the box `in0 ..< in1` (fractional) of `inSize` samples.
    static func coefficients(inSize: Int, in0: Double, in1: Double, outSize: Int, filter: ResampleFilter) -> Coefficients {
        let scale = (in1 - in0) / Double(outSize)
        let filterscale = max(scale, 1.0)
        let support = filter.support * filterscale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var bounds = [Int](repeating: 0, count: outSize * 2)
        var kk = [Double](repeating: 0, count: outSize * ksize)
        let ss = 1.0 / filterscale
        for xx in 0..<outSize {
            let center = in0 + (Double(xx) + 0.5) * scale
            var xmin = Int(center - support + 0.5)  // C (int) truncation, as in Pillow
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var ww = 0.0
            for x in 0..<xmax {
                let w = filter.weight((Double(x + xmin) - center + 0.5) * ss)
                kk[xx * ksize + x] = w
                ww += w
            }
            if ww != 0.0 { for x in 0..<xmax { kk[xx * ksize + x] /= ww } }
            bounds[2 * xx] = xmin
            bounds[2 * xx + 1] = xmax
        }
        return Coefficients(ksize: ksize, bounds: bounds, weights: kk)
    }

    /// `normalize_coeffs_8bpc`.
    static func fixedPoint(_ kk: [Double]) -> [Int32] {
        let one = Double(1 << precisionBits)
        return kk.map { $0 < 0 ? Int32(-0.5 + $0 * one) : Int32(0.5 + $0 * one) }
    }

    @inline(__always) static func clip8(_ v: Int) -> UInt8 {
        let s = v >> precisionBits
        return s < 0 ? 0 : s > 255 ? 255 : UInt8(s)
    }

    /// Pillow 13's choice of pass order (`ImagingResampleInner`): the vertical pass runs first
    /// when the height shrinks by more than twice as many pixels as the width does (tall images
    /// scaled down); otherwise the horizontal pass runs first. The uint8 rounding between the
    /// passes makes the order visible in the result.
    static func verticalFirst(width: Int, height: Int, outWidth: Int, outHeight: Int) -> Bool {
        let dy = height - outHeight, dx = width - outWidth
        return dy > 0 && dy > dx * 2
    }

    /// Resizes interleaved 8-bit samples (`channels` per pixel), each channel independently,
    /// in Pillow's pass order.
    /// `box` (x0, y0, x1, y1), in source pixels, fractional: resize only that part of the source,
    /// as Pillow's `resize(size, box=...)` does (both passes always run then).
    static func resample8(
        _ src: [UInt8], width: Int, height: Int, channels c: Int, outWidth: Int, outHeight: Int,
        filter: ResampleFilter, box: (x0: Double, y0: Double, x1: Double, y1: Double)? = nil
    ) -> [UInt8] {
        if box == nil && width == outWidth && height == outHeight { return src }
        let needH = box != nil || outWidth != width, needV = box != nil || outHeight != height
        let horiz: Coefficients, vertical: Coefficients
        if let box {
            horiz = coefficients(inSize: width, in0: box.x0, in1: box.x1, outSize: outWidth, filter: filter)
            vertical = coefficients(inSize: height, in0: box.y0, in1: box.y1, outSize: outHeight, filter: filter)
        } else {
            horiz = coefficients(inSize: width, outSize: outWidth, filter: filter)
            vertical = coefficients(inSize: height, outSize: outHeight, filter: filter)
        }
        var vert = vertical
        if verticalFirst(width: width, height: height, outWidth: outWidth, outHeight: outHeight) {
            // [H, W] -> [outH, W] -> [outH, outW]
            var cur = src
            if needV { cur = verticalPass(cur, rowLength: width * c, outHeight: outHeight, vert) }
            if needH {
                cur = horizontalPass(cur, width: width, rows: outHeight, rowOffset: 0, channels: c, outWidth: outWidth, horiz)
            }
            return cur
        }
        // [H, W] -> [rows the vertical pass reads, outW] -> [outH, outW]
        var cur = src
        if needH {
            let first = vert.bounds[0]
            let last = vert.bounds[2 * outHeight - 2] + vert.bounds[2 * outHeight - 1]
            for i in 0..<outHeight { vert.bounds[2 * i] -= first }
            cur = horizontalPass(src, width: width, rows: last - first, rowOffset: first, channels: c, outWidth: outWidth, horiz)
        }
        if needV { cur = verticalPass(cur, rowLength: (needH ? outWidth : width) * c, outHeight: outHeight, vert) }
        return cur
    }

    /// `ImagingResampleHorizontal_8bpc`: rows `rowOffset ..< rowOffset + rows` of `src`, each
    /// resized from `width` to `outWidth` pixels.
    static func horizontalPass(
        _ src: [UInt8], width: Int, rows: Int, rowOffset: Int, channels c: Int, outWidth: Int, _ horiz: Coefficients
    ) -> [UInt8] {
        let k = fixedPoint(horiz.weights)
        let ksize = horiz.ksize
        var out = [UInt8](repeating: 0, count: outWidth * rows * c)
        src.withUnsafeBufferPointer { s in
            k.withUnsafeBufferPointer { k in
                horiz.bounds.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { o in
                        for yy in 0..<rows {
                            let inRow = (yy + rowOffset) * width * c
                            let outRow = yy * outWidth * c
                            for xx in 0..<outWidth {
                                let xmin = b[2 * xx], xmax = b[2 * xx + 1]
                                let kb = xx * ksize
                                for ch in 0..<c {
                                    var ss = 1 << (precisionBits - 1)
                                    var p = inRow + xmin * c + ch
                                    for x in 0..<xmax {
                                        ss += Int(s[p]) * Int(k[kb + x])
                                        p += c
                                    }
                                    o[outRow + xx * c + ch] = clip8(ss)
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// `ImagingResampleVertical_8bpc`: rows of `rowLength` samples resized to `outHeight` rows
    /// (the bounds index rows of `src`).
    static func verticalPass(_ src: [UInt8], rowLength rowLen: Int, outHeight: Int, _ vert: Coefficients) -> [UInt8] {
        let k = fixedPoint(vert.weights)
        let ksize = vert.ksize
        var out = [UInt8](repeating: 0, count: rowLen * outHeight)
        src.withUnsafeBufferPointer { s in
            k.withUnsafeBufferPointer { k in
                vert.bounds.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { o in
                        for yy in 0..<outHeight {
                            let ymin = b[2 * yy], ymax = b[2 * yy + 1]
                            let kb = yy * ksize
                            for i in 0..<rowLen {
                                var ss = 1 << (precisionBits - 1)
                                var p = ymin * rowLen + i
                                for y in 0..<ymax {
                                    ss += Int(s[p]) * Int(k[kb + y])
                                    p += rowLen
                                }
                                o[yy * rowLen + i] = clip8(ss)
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Pillow's NEAREST resize (`ImagingScaleAffine`): positions accumulate in double.
    static func nearest(
        _ src: [UInt8], width: Int, height: Int, channels c: Int, outWidth: Int, outHeight: Int
    ) -> [UInt8] {
        if width == outWidth && height == outHeight { return src }
        func table(_ inSize: Int, _ outSize: Int) -> [Int] {
            let a = Double(inSize) / Double(outSize)
            var o = a * 0.5
            var t = [Int](repeating: 0, count: outSize)
            for i in 0..<outSize {
                t[i] = o < 0 ? -1 : min(Int(o), inSize - 1)
                o += a
            }
            return t
        }
        let xs = table(width, outWidth), ys = table(height, outHeight)
        var out = [UInt8](repeating: 0, count: outWidth * outHeight * c)
        for y in 0..<outHeight {
            let inRow = ys[y] * width
            for x in 0..<outWidth {
                for ch in 0..<c { out[(y * outWidth + x) * c + ch] = src[(inRow + xs[x]) * c + ch] }
            }
        }
        return out
    }
}
