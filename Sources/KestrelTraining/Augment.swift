import Foundation

/// Training-time image augmentation on 8-bit RGB pictures: torchvision's `RandomResizedCrop`
/// (the same parameter draw: area scale and log-uniform aspect ratio, 10 attempts, then the
/// centre-crop fallback), resized to the model's input with an antialiased bilinear (triangle)
/// filter as Pillow's `BILINEAR` resize does, an optional horizontal mirror, then
/// `(v / 255 - mean) / std` into channel-major floats. No colour jitter (colour words in
/// captions must stay true).
public enum Augment {
    /// A crop box in pixels: top row `i`, left column `j`, height `h`, width `w`.
    public struct Box: Sendable, Equatable { public var i, j, h, w: Int }

    /// torchvision `RandomResizedCrop.get_params` for a `width` x `height` picture, drawing from `rng`.
    public static func randomResizedCrop(width: Int, height: Int, scale: (Double, Double), ratio: (Double, Double),
                                         rng: inout TrainingRNG) -> Box {
        let area = Double(width * height)
        let logRatio = (log(ratio.0), log(ratio.1))
        for _ in 0..<10 {
            let target = area * uniform(scale.0, scale.1, &rng)
            let aspect = exp(uniform(logRatio.0, logRatio.1, &rng))
            let wd = (target * aspect).squareRoot().rounded(.toNearestOrEven)
            let hd = (target / aspect).squareRoot().rounded(.toNearestOrEven)
            // Compared as Double first: out-of-range scale or ratio must not trap in Int().
            guard wd >= 1 && wd <= Double(width) && hd >= 1 && hd <= Double(height) else { continue }
            let w = Int(wd), h = Int(hd)
            if w > 0 && w <= width && h > 0 && h <= height {
                let i = Int(rng.next() % UInt64(height - h + 1))
                let j = Int(rng.next() % UInt64(width - w + 1))
                return Box(i: i, j: j, h: h, w: w)
            }
        }
        let inRatio = Double(width) / Double(height)
        var (w, h) = (width, height)
        if inRatio < ratio.0 {
            h = Int((Double(w) / ratio.0).rounded(.toNearestOrEven))
        } else if inRatio > ratio.1 {
            w = Int((Double(h) * ratio.1).rounded(.toNearestOrEven))
        }
        h = max(1, min(h, height)); w = max(1, min(w, width))
        return Box(i: (height - h) / 2, j: (width - w) / 2, h: h, w: w)
    }

    @inline(__always) static func uniform(_ lo: Double, _ hi: Double, _ rng: inout TrainingRNG) -> Double {
        lo + (hi - lo) * (Double(rng.next() >> 11) / Double(1 << 53))
    }

    /// True when a caption names a side ("left", "right" as words, any case): mirroring would make it false.
    public static func mentionsSide(_ caption: String) -> Bool {
        let words = caption.lowercased().split { !$0.isLetter }
        return words.contains("left") || words.contains("right")
    }

    /// Crops `box` out of `rgb` (interleaved, `width` x `height` x 3), resizes it to `size` x `size`
    /// (antialiased bilinear), mirrors it when `flip`, and writes `(v / 255 - mean[c]) / std[c]`
    /// to `out` as [3, size, size].
    public static func cropResizeNormalise(
        _ rgb: UnsafeBufferPointer<UInt8>, width: Int, height: Int, box: Box, size: Int, flip: Bool,
        mean: [Float], std: [Float], out: UnsafeMutablePointer<Float>
    ) {
        let hx = Taps(inStart: box.j, inSize: box.w, outSize: size, limit: width)
        let vy = Taps(inStart: box.i, inSize: box.h, outSize: size, limit: height)
        // Horizontal pass over the rows the vertical taps need: [rows, size, 3].
        let rowLo = vy.first.min() ?? 0
        let rowHi = zip(vy.first, vy.count).map { $0 + $1 }.max() ?? 0
        var tmp = [Float](repeating: 0, count: (rowHi - rowLo) * size * 3)
        let plane = size * size
        let scale = (0..<3).map { 1 / (255 * std[$0]) }, shift = (0..<3).map { mean[$0] / std[$0] }
        let (s0, s1, s2) = (scale[0], scale[1], scale[2]), (m0, m1, m2) = (shift[0], shift[1], shift[2])
        tmp.withUnsafeMutableBufferPointer { t in
            hx.first.withUnsafeBufferPointer { hf in hx.count.withUnsafeBufferPointer { hc in hx.weights.withUnsafeBufferPointer { hw in
            vy.first.withUnsafeBufferPointer { vf in vy.count.withUnsafeBufferPointer { vc in vy.weights.withUnsafeBufferPointer { vw in
                let tb = t.baseAddress!
                for y in rowLo..<rowHi {
                    let src = rgb.baseAddress! + y * width * 3
                    let dst = tb + (y - rowLo) * size * 3
                    for x in 0..<size {
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        let f = hf[x], base = x * hx.stride
                        for k in 0..<hc[x] {
                            let wgt = hw[base + k], p = src + (f + k) * 3
                            r += wgt * Float(p[0]); g += wgt * Float(p[1]); b += wgt * Float(p[2])
                        }
                        dst[3 * x] = r; dst[3 * x + 1] = g; dst[3 * x + 2] = b
                    }
                }
                for y in 0..<size {
                    let f = vf[y] - rowLo, base = y * vy.stride, n = vc[y]
                    let row = y * size
                    for x in 0..<size {
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        var p = tb + (f * size + x) * 3
                        for k in 0..<n {
                            let wgt = vw[base + k]
                            r += wgt * p[0]; g += wgt * p[1]; b += wgt * p[2]
                            p += size * 3
                        }
                        let o = row + (flip ? size - 1 - x : x)
                        out[o] = r * s0 - m0
                        out[plane + o] = g * s1 - m1
                        out[2 * plane + o] = b * s2 - m2
                    }
                }
            } } }
            } } }
        }
    }

    /// Shrinks an interleaved RGB picture so its shorter side is `shortSide` (antialiased
    /// bilinear, rounded to 8 bits); pictures already that small are returned as they are.
    public static func shrink(_ rgb: [UInt8], width: Int, height: Int, shortSide: Int) -> (pixels: [UInt8], width: Int, height: Int) {
        let short = min(width, height)
        if short <= shortSide { return (rgb, width, height) }
        let ow = max(1, Int((Double(width) * Double(shortSide) / Double(short)).rounded()))
        let oh = max(1, Int((Double(height) * Double(shortSide) / Double(short)).rounded()))
        let hx = Taps(inStart: 0, inSize: width, outSize: ow, limit: width)
        let vy = Taps(inStart: 0, inSize: height, outSize: oh, limit: height)
        var tmp = [Float](repeating: 0, count: height * ow * 3)
        for y in 0..<height {
            for x in 0..<ow {
                let f = hx.first[x], base = x * hx.stride
                for c in 0..<3 {
                    var s: Float = 0
                    for k in 0..<hx.count[x] { s += hx.weights[base + k] * Float(rgb[((y * width) + f + k) * 3 + c]) }
                    tmp[(y * ow + x) * 3 + c] = s
                }
            }
        }
        var out = [UInt8](repeating: 0, count: oh * ow * 3)
        for y in 0..<oh {
            let f = vy.first[y], base = y * vy.stride
            for i in 0..<(ow * 3) {
                var s: Float = 0
                for k in 0..<vy.count[y] { s += vy.weights[base + k] * tmp[(f + k) * ow * 3 + i] }
                out[y * ow * 3 + i] = UInt8(max(0, min(255, s.rounded())))
            }
        }
        return (out, ow, oh)
    }

    /// Pillow-style resampling taps for one axis: output pixel o covers input
    /// [inStart + o·s, inStart + (o+1)·s) with s = inSize / outSize; triangle filter of support
    /// max(1, s); weights normalised to sum 1; taps clipped to [0, limit).
    struct Taps {
        var first: [Int], count: [Int], weights: [Float], stride: Int

        init(inStart: Int, inSize: Int, outSize: Int, limit: Int) {
            let scale = Double(inSize) / Double(outSize)
            let filterScale = max(1, scale)
            let support = filterScale  // triangle support 1, scaled
            stride = Int(ceil(support)) * 2 + 1
            first = [Int](repeating: 0, count: outSize)
            count = [Int](repeating: 0, count: outSize)
            weights = [Float](repeating: 0, count: outSize * stride)
            for o in 0..<outSize {
                let centre = Double(inStart) + (Double(o) + 0.5) * scale
                var lo = max(Int((centre - support).rounded(.down)), 0)
                var hi = min(Int((centre + support).rounded(.up)), limit)
                @inline(__always) func weight(_ i: Int) -> Double { max(0, 1 - abs((Double(i) + 0.5 - centre) / filterScale)) }
                // Drop zero-weight taps at the ends so the stride bound holds.
                while hi - lo > 1 && weight(lo) == 0 { lo += 1 }
                while hi - lo > 1 && weight(hi - 1) == 0 { hi -= 1 }
                hi = max(lo + 1, min(hi, lo + stride))
                var total = 0.0
                for i in lo..<hi { total += weight(i) }
                first[o] = lo
                count[o] = hi - lo
                for i in lo..<hi { weights[o * stride + i - lo] = Float(total > 0 ? weight(i) / total : 1 / Double(hi - lo)) }
            }
        }
    }
}
