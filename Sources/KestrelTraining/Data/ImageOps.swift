import KestrelImage

/// Pixel operations for data building: any decoded mode to RGBA, alpha over white, resampling,
/// fit-and-pad to a square. 8-bit interleaved buffers, row-major, top row first.
public enum ImageOps {
    /// RGBA of a decoded image (palette, gray, tRNS transparency and CMYK handled).
    public static func rgba(_ im: DecodedImage) -> [UInt8] {
        let n = im.width * im.height
        var out = [UInt8](repeating: 255, count: n * 4)
        let p = im.pixels
        switch im.mode {
        case .gray, .bilevel:
            var tGray = -1
            if case let .gray(g)? = im.transparency { tGray = g }
            for i in 0..<n { let v = p[i]; out[4 * i] = v; out[4 * i + 1] = v; out[4 * i + 2] = v; if Int(v) == tGray { out[4 * i + 3] = 0 } }
        case .grayAlpha:
            for i in 0..<n { let v = p[2 * i]; out[4 * i] = v; out[4 * i + 1] = v; out[4 * i + 2] = v; out[4 * i + 3] = p[2 * i + 1] }
        case .rgb:
            var t = (-1, -1, -1)
            if case let .rgb(r, g, b)? = im.transparency { t = (r, g, b) }
            for i in 0..<n {
                out[4 * i] = p[3 * i]; out[4 * i + 1] = p[3 * i + 1]; out[4 * i + 2] = p[3 * i + 2]
                if Int(p[3 * i]) == t.0 && Int(p[3 * i + 1]) == t.1 && Int(p[3 * i + 2]) == t.2 { out[4 * i + 3] = 0 }
            }
        case .rgba:
            out = Array(p.prefix(n * 4))
        case .palette:
            let pal = im.palette
            var alpha = [UInt8](repeating: 255, count: 256)
            switch im.transparency {
            case let .paletteIndex(k)?: if k >= 0 && k < 256 { alpha[k] = 0 }
            case let .paletteAlpha(a)?: for (k, v) in a.prefix(256).enumerated() { alpha[k] = v }
            default: break
            }
            for i in 0..<n {
                let k = Int(p[i])
                if 3 * k + 2 < pal.count { out[4 * i] = pal[3 * k]; out[4 * i + 1] = pal[3 * k + 1]; out[4 * i + 2] = pal[3 * k + 2] }
                else { out[4 * i] = 0; out[4 * i + 1] = 0; out[4 * i + 2] = 0 }
                out[4 * i + 3] = alpha[k]
            }
        case .cmyk:
            for i in 0..<n {
                let k = Int(p[4 * i + 3])
                for c in 0..<3 { out[4 * i + c] = UInt8(Int(p[4 * i + c]) * k / 255) }
            }
        }
        return out
    }

    /// RGB of `rgba` composited over white: c' = (c·a + 255·(255 − a)) / 255, rounded.
    public static func overWhite(_ rgba: [UInt8], count n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 255, count: n * 3)
        for i in 0..<n {
            let a = Int(rgba[4 * i + 3])
            for c in 0..<3 { out[3 * i + c] = UInt8((Int(rgba[4 * i + c]) * a + 255 * (255 - a) + 127) / 255) }
        }
        return out
    }

    /// RGB of `rgba` over white, shrunk by the integer `factor` in both directions: each output
    /// pixel is the mean of a factor×factor block (edge blocks partial), composited exactly
    /// (c·a + 255·(255 − a) summed, divided once). A fast first step before `resize` for big pictures.
    public static func overWhiteReduced(_ rgba: [UInt8], width w: Int, height h: Int, factor k: Int) -> (pixels: [UInt8], width: Int, height: Int) {
        let ow = (w + k - 1) / k, oh = (h + k - 1) / k
        var out = [UInt8](repeating: 255, count: ow * oh * 3)
        var acc = [Int](repeating: 0, count: ow * 3)
        var cnt = [Int](repeating: 0, count: ow)
        rgba.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                acc.withUnsafeMutableBufferPointer { a in
                    cnt.withUnsafeMutableBufferPointer { n in
                        for oy in 0..<oh {
                            for i in 0..<(ow * 3) { a[i] = 0 }
                            for i in 0..<ow { n[i] = 0 }
                            for y in (oy * k)..<min(h, oy * k + k) {
                                var p = y * w * 4
                                for x in 0..<w {
                                    let ox = x / k
                                    let al = Int(src[p + 3]), bg = 255 * (255 - al)
                                    a[3 * ox] += Int(src[p]) * al + bg
                                    a[3 * ox + 1] += Int(src[p + 1]) * al + bg
                                    a[3 * ox + 2] += Int(src[p + 2]) * al + bg
                                    n[ox] += 1
                                    p += 4
                                }
                            }
                            for ox in 0..<ow {
                                let d = 255 * n[ox]
                                for c in 0..<3 { dst[(oy * ow + ox) * 3 + c] = UInt8((a[3 * ox + c] + d / 2) / d) }
                            }
                        }
                    }
                }
            }
        }
        return (out, ow, oh)
    }

    /// Weights of a separable resampling along one axis: for each output index, the first input
    /// index and the normalised weights. Downscaling uses a box filter (area average over the
    /// input footprint of each output pixel); upscaling uses a triangle (bilinear) filter.
    static func weights(input: Int, output: Int) -> [(start: Int, w: [Float])] {
        let scale = Double(input) / Double(output)
        let down = scale >= 1
        let support = down ? 0.5 * scale : 1.0
        var res = [(start: Int, w: [Float])]()
        res.reserveCapacity(output)
        for o in 0..<output {
            let center = (Double(o) + 0.5) * scale
            let lo = max(0, Int((center - support).rounded(.down)))
            let hi = min(input, Int((center + support).rounded(.up)))
            var w = [Float]()
            var sum = 0.0
            for j in lo..<max(lo + 1, hi) {
                let jj = min(j, input - 1)
                let x = Double(jj) + 0.5 - center
                var v: Double
                if down {
                    // overlap of [j, j+1) with [center - support, center + support)
                    v = max(0, min(Double(jj) + 1, center + support) - max(Double(jj), center - support))
                } else {
                    v = max(0, 1 - abs(x))
                }
                w.append(Float(v)); sum += v
            }
            if sum <= 0 { w = [1] + [Float](repeating: 0, count: max(0, w.count - 1)); sum = 1 }
            res.append((lo, w.map { $0 / Float(sum) }))
        }
        return res
    }

    /// Resizes interleaved `channels`-byte pixels from w×h to ow×oh (separable, horizontal first).
    public static func resize(_ px: [UInt8], width w: Int, height h: Int, channels c: Int, toWidth ow: Int, height oh: Int) -> [UInt8] {
        if w == ow && h == oh { return px }
        let wx = weights(input: w, output: ow)
        let wy = weights(input: h, output: oh)
        var mid = [Float](repeating: 0, count: ow * h * c)
        for y in 0..<h {
            for x in 0..<ow {
                let (s, ws) = wx[x]
                for ch in 0..<c {
                    var acc: Float = 0
                    for (k, wt) in ws.enumerated() { acc += wt * Float(px[((y * w) + min(s + k, w - 1)) * c + ch]) }
                    mid[(y * ow + x) * c + ch] = acc
                }
            }
        }
        var out = [UInt8](repeating: 0, count: ow * oh * c)
        for y in 0..<oh {
            let (s, ws) = wy[y]
            for x in 0..<ow {
                for ch in 0..<c {
                    var acc: Float = 0
                    for (k, wt) in ws.enumerated() { acc += wt * mid[(min(s + k, h - 1) * ow + x) * c + ch] }
                    out[(y * ow + x) * c + ch] = UInt8(max(0, min(255, acc.rounded())))
                }
            }
        }
        return out
    }

    /// Scales RGB pixels to fit `size`×`size` keeping the aspect ratio, centred on white.
    public static func fitOnWhiteSquare(_ rgb: [UInt8], width w: Int, height h: Int, size: Int) -> [UInt8] {
        let scale = Double(size) / Double(max(w, h))
        let ow = max(1, min(size, Int((Double(w) * scale).rounded())))
        let oh = max(1, min(size, Int((Double(h) * scale).rounded())))
        let scaled = resize(rgb, width: w, height: h, channels: 3, toWidth: ow, height: oh)
        var out = [UInt8](repeating: 255, count: size * size * 3)
        let x0 = (size - ow) / 2, y0 = (size - oh) / 2
        for y in 0..<oh {
            let src = y * ow * 3
            let dst = ((y0 + y) * size + x0) * 3
            for i in 0..<(ow * 3) { out[dst + i] = scaled[src + i] }
        }
        return out
    }
}
