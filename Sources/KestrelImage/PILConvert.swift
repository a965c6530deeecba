/// Pillow's mode conversions (`libImaging/Convert.c`, `AlphaComposite.c`) as CLIP preprocessing
/// uses them. All integer formulas were checked exhaustively against Pillow 13.
enum PILConvert {
    /// Pillow's MULDIV255: round(a * b / 255) in integers.
    @inline(__always) static func mulDiv255(_ a: Int, _ b: Int) -> Int {
        let t = a * b + 128
        return ((t >> 8) + t) >> 8
    }

    /// `im.convert("RGB")`: alpha and transparency are dropped.
    static func toRGB(_ im: DecodedImage) -> [UInt8] {
        if im.mode == .rgb { return im.pixels }  // shared, not copied (no second buffer for a huge image)
        let n = im.width * im.height
        var out = [UInt8](repeating: 0, count: n * 3)
        let px = im.pixels
        switch im.mode {
        case .bilevel, .gray:
            for i in 0..<n { out[3 * i] = px[i]; out[3 * i + 1] = px[i]; out[3 * i + 2] = px[i] }
        case .grayAlpha:
            for i in 0..<n { let l = px[2 * i]; out[3 * i] = l; out[3 * i + 1] = l; out[3 * i + 2] = l }
        case .rgb:
            return px
        case .rgba:
            for i in 0..<n { for c in 0..<3 { out[3 * i + c] = px[4 * i + c] } }
        case .palette:
            let pal = im.palette
            for i in 0..<n {
                let e = 3 * Int(px[i])
                if e + 2 < pal.count { for c in 0..<3 { out[3 * i + c] = pal[e + c] } }  // else black
            }
        case .cmyk:  // cmyk2rgb
            for i in 0..<n {
                let nk = 255 - Int(px[4 * i + 3])
                for c in 0..<3 { out[3 * i + c] = UInt8(clamping: nk - mulDiv255(Int(px[4 * i + c]), nk)) }
            }
        }
        return out
    }

    /// `im.convert("RGBA")`, turning `info["transparency"]` into alpha as Pillow does
    /// (palette alpha, or alpha 0 where the RGB-converted pixel equals the transparent value).
    static func toRGBA(_ im: DecodedImage) -> [UInt8] {
        let n = im.width * im.height
        var out = [UInt8](repeating: 255, count: n * 4)
        if im.mode == .rgba { return im.pixels }
        if im.mode == .grayAlpha {
            for i in 0..<n {
                let l = im.pixels[2 * i]
                out[4 * i] = l; out[4 * i + 1] = l; out[4 * i + 2] = l; out[4 * i + 3] = im.pixels[2 * i + 1]
            }
            return out
        }
        let rgb = toRGB(im)
        for i in 0..<n { for c in 0..<3 { out[4 * i + c] = rgb[3 * i + c] } }
        switch (im.mode, im.transparency) {
        case (.palette, .paletteIndex(let t)?):
            for i in 0..<n where Int(im.pixels[i]) == t { out[4 * i + 3] = 0 }
        case (.palette, .paletteAlpha(let alphas)?):
            for i in 0..<n {
                let p = Int(im.pixels[i])
                if p < alphas.count { out[4 * i + 3] = alphas[p] }
            }
        case (_, .gray(let t)?):
            for i in 0..<n where Int(rgb[3 * i]) == t { out[4 * i + 3] = 0 }
        case (_, .rgb(let r, let g, let b)?):
            for i in 0..<n where Int(rgb[3 * i]) == r && Int(rgb[3 * i + 1]) == g && Int(rgb[3 * i + 2]) == b {
                out[4 * i + 3] = 0
            }
        default:
            break
        }
        return out
    }

    /// `Image.alpha_composite(white, rgba).convert("RGB")` (AlphaComposite.c, 7 precision bits).
    static func compositeOnWhite(_ rgba: [UInt8], count n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 255, count: n * 3)
        let pb = 7
        @inline(__always) func shiftDiv255(_ a: Int) -> Int { ((a >> 8) + a) >> 8 }
        for i in 0..<n {
            let a = Int(rgba[4 * i + 3])
            if a == 0 { continue }
            let blend = 255 * (255 - a)
            let outa255 = a * 255 + blend
            let coef1 = a * 255 * 255 * (1 << pb) / outa255
            let coef2 = 255 * (1 << pb) - coef1
            for c in 0..<3 {
                let tmp = Int(rgba[4 * i + c]) * coef1 + 255 * coef2
                out[3 * i + c] = UInt8(shiftDiv255(tmp + (0x80 << pb)) >> pb)
            }
        }
        return out
    }

    /// RGBA -> RGBa / LA -> La: colour premultiplied by alpha (the last of `channels` samples).
    static func premultiply(_ px: inout [UInt8], channels c: Int) {
        let n = px.count / c
        for i in 0..<n {
            let a = Int(px[i * c + c - 1])
            for k in 0..<(c - 1) { px[i * c + k] = UInt8(mulDiv255(Int(px[i * c + k]), a)) }
        }
    }

    /// RGBa -> RGBA / La -> LA: `clip(255 * v / a)` with integer division; a of 0 or 255 unchanged.
    static func unpremultiply(_ px: inout [UInt8], channels c: Int) {
        let n = px.count / c
        for i in 0..<n {
            let a = Int(px[i * c + c - 1])
            if a == 0 || a == 255 { continue }
            for k in 0..<(c - 1) { px[i * c + k] = UInt8(min(255, 255 * Int(px[i * c + k]) / a)) }
        }
    }
}
