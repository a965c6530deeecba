/// What to do with a photo's EXIF Orientation tag.
public enum OrientationHandling: String, Sendable, CaseIterable {
    /// Turn the picture upright as viewers do (`PIL.ImageOps.exif_transpose`, also what
    /// transformers' `load_image` does) before anything else. The default.
    case exif
    /// Use the pixels as stored, as `PIL.Image.open` gives them to both reference pipelines.
    case ignore
}

/// Reads the EXIF Orientation tag (0x0112) from a JPEG's first APP1 `Exif` segment or a PNG's
/// `eXIf` chunk. Every offset is bounds-checked: a damaged or hostile block gives `nil` (the
/// picture is used as stored), never a crash or an unbounded loop.
enum EXIFOrientation {
    /// The tag's value, 1...8, or nil when there is none or it is malformed.
    static func read(_ bytes: [UInt8], format: ImageFormat) -> Int? {
        switch format {
        case .jpeg: return jpegEXIF(bytes).flatMap { tiffOrientation(bytes, $0) }
        case .png: return pngEXIF(bytes).flatMap { tiffOrientation(bytes, $0) }
        default: return nil
        }
    }

    /// The TIFF block of the first APP1 segment that starts with `Exif\0\0`, before the scan data.
    static func jpegEXIF(_ b: [UInt8]) -> Range<Int>? {
        var p = 2  // after SOI
        while p + 4 <= b.count {
            guard b[p] == 0xFF else { return nil }
            let marker = b[p + 1]
            if marker == 0xFF { p += 1; continue }  // fill byte
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { p += 2; continue }  // no length
            if marker == 0xDA || marker == 0xD9 { return nil }  // scan data or end: no more metadata
            let length = Int(b[p + 2]) << 8 | Int(b[p + 3])  // includes its own 2 bytes
            guard length >= 2, p + 2 + length <= b.count else { return nil }
            let body = (p + 4)..<(p + 2 + length)
            if marker == 0xE1, body.count >= 6, Array(b[body.lowerBound..<(body.lowerBound + 6)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                return (body.lowerBound + 6)..<body.upperBound
            }
            p += 2 + length
        }
        return nil
    }

    /// The data of the first `eXIf` chunk (a TIFF block; an `Exif\0\0` prefix is tolerated).
    static func pngEXIF(_ b: [UInt8]) -> Range<Int>? {
        var p = 8  // after the signature
        while p + 12 <= b.count {
            let length = Int(b[p]) << 24 | Int(b[p + 1]) << 16 | Int(b[p + 2]) << 8 | Int(b[p + 3])
            guard length <= b.count - p - 12 else { return nil }
            let type = Array(b[(p + 4)..<(p + 8)])
            let data = (p + 8)..<(p + 8 + length)
            if type == Array("eXIf".utf8) {
                if data.count >= 6, Array(b[data.lowerBound..<(data.lowerBound + 6)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                    return (data.lowerBound + 6)..<data.upperBound
                }
                return data
            }
            if type == Array("IEND".utf8) { return nil }
            p = data.upperBound + 4  // CRC
        }
        return nil
    }

    /// Orientation from IFD0 of a TIFF block in `b[r]`: byte order, magic 42, IFD offset, entries.
    static func tiffOrientation(_ b: [UInt8], _ r: Range<Int>) -> Int? {
        guard r.count >= 8 else { return nil }
        let base = r.lowerBound
        let little: Bool
        switch (b[base], b[base + 1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ o: Int) -> Int? {
            guard o >= 0, o + 2 <= r.count else { return nil }
            let x = Int(b[base + o]), y = Int(b[base + o + 1])
            return little ? y << 8 | x : x << 8 | y
        }
        func u32(_ o: Int) -> Int? {
            guard let lo = u16(little ? o : o + 2), let hi = u16(little ? o + 2 : o) else { return nil }
            return hi << 16 | lo
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
        for i in 0..<count {
            let entry = ifd + 2 + 12 * i
            guard let tag = u16(entry), let type = u16(entry + 2), let n = u32(entry + 4) else { return nil }
            guard tag == 0x0112 else { continue }
            // SHORT (3) as written by cameras; LONG (4) tolerated. One value, stored inline.
            let value: Int?
            switch type {
            case 3 where n >= 1: value = u16(entry + 8)
            case 4 where n >= 1: value = u32(entry + 8)
            default: value = nil
            }
            guard let value, (1...8).contains(value) else { return nil }
            return value
        }
        return nil
    }
}

extension DecodedImage {
    /// The picture as a viewer shows it for EXIF orientation `orientation` (1...8), the
    /// transposition `PIL.ImageOps.exif_transpose` applies: 2 mirror, 3 rotate 180, 4 flip,
    /// 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise.
    public func oriented(_ orientation: Int) -> DecodedImage {
        guard (2...8).contains(orientation) else { return self }
        let (w, h, c) = (width, height, mode.channels)
        let swaps = orientation >= 5
        let (ow, oh) = swaps ? (h, w) : (w, h)
        // Source pixel (column, row) of output pixel (x, y).
        let source: (Int, Int) -> (Int, Int)
        switch orientation {
        case 2: source = { x, y in (w - 1 - x, y) }
        case 3: source = { x, y in (w - 1 - x, h - 1 - y) }
        case 4: source = { x, y in (x, h - 1 - y) }
        case 5: source = { x, y in (y, x) }
        case 6: source = { x, y in (y, h - 1 - x) }
        case 7: source = { x, y in (w - 1 - y, h - 1 - x) }
        default: source = { x, y in (w - 1 - y, x) }  // 8
        }
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<oh {
                    for x in 0..<ow {
                        let (sx, sy) = source(x, y)
                        let s = (sy * w + sx) * c, d = (y * ow + x) * c
                        for k in 0..<c { dst[d + k] = src[s + k] }
                    }
                }
            }
        }
        var image = self
        image.width = ow
        image.height = oh
        image.pixels = out
        image.reduction = reduction?.oriented(orientation, width: w, height: h)
        return image
    }
}
