import CPNG

/// PNG through libpng, mapped to Pillow's modes (PngImagePlugin `_MODES`):
/// gray 1 -> `1`; gray 2/4/8 -> `L` (scaled x85 / x17); RGB 8/16 -> `RGB` (16-bit keeps the
/// high byte); palette 1/2/4/8 -> `P`; gray+alpha 8 -> `LA`, 16 -> `RGBA`; RGBA 8/16 -> `RGBA`.
/// tRNS becomes `Transparency` exactly as Pillow's `chunk_tRNS` reads it.
/// One difference from Pillow: gray 16 -> `L` by the high byte too (viewers' scaling), where
/// Pillow makes `I;16`, which its `convert("RGB")` clips to 255 (a near-white picture).
enum PNGCodec {
    private static let messageCapacity = 200

    private static func run(
        _ bytes: [UInt8], name: String, out: UnsafeMutablePointer<UInt8>?, outSize: Int
    ) throws -> kestrel_png_info {
        var info = kestrel_png_info()
        var msg = [CChar](repeating: 0, count: messageCapacity)
        let rc = bytes.withUnsafeBufferPointer { b in
            kestrel_png_decode(b.baseAddress, b.count, &info, out, outSize, &msg, messageCapacity)
        }
        if rc != 0 {
            let text = String(decoding: msg.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if rc == Int32(KESTREL_PNG_TRUNCATED) { throw ImageError.truncated(path: name, detail: text) }
            throw ImageError.corrupt(path: name, detail: text)
        }
        return info
    }

    /// Width and height straight from IHDR (which must come first), so that a header alone
    /// is enough to refuse an oversized image.
    static func header(_ bytes: [UInt8], name: String) throws -> (Int, Int) {
        guard bytes.count >= 24 else { throw ImageError.truncated(path: name, detail: "no IHDR chunk") }
        guard Array(bytes[12..<16]) == Array("IHDR".utf8) else {
            throw ImageError.corrupt(path: name, detail: "first chunk is not IHDR")
        }
        func be32(_ o: Int) -> Int { bytes[o..<o + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (be32(16), be32(20))
    }

    /// What the chunk headers say, read without inflating anything.
    struct Layout {
        var width = 0, height = 0, bitDepth = 0, colorType = 0, interlaced = false
        /// Bytes of IDAT data present in the file (a chunk cut short by the end of the file counts as far as it goes).
        var compressedBytes = 0
        var hasTRNS = false

        /// Samples per pixel, 0 for an unknown colour type (libpng refuses those).
        var channels: Int { [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType] ?? 0 }

        /// The fewest bytes the inflated image data can have: the packed samples of every row,
        /// plus one filter byte per row when it is not interlaced (Adam7 passes have at least as many).
        var minimumRawBytes: Double {
            let rowBits = Double(width) * Double(channels) * Double(bitDepth)
            if interlaced { return (rowBits * Double(height) / 8).rounded(.up) }
            return Double(height) * (1 + (rowBits / 8).rounded(.up))
        }
    }

    /// Walks the chunk headers (IHDR first), summing the IDAT lengths; stops at IEND or at the end of the bytes.
    static func layout(_ bytes: [UInt8]) -> Layout {
        var l = Layout()
        func be32(_ o: Int) -> Int { bytes[o..<o + 4].reduce(0) { $0 << 8 | Int($1) } }
        if bytes.count >= 29 {
            l.width = be32(16); l.height = be32(20)
            l.bitDepth = Int(bytes[24]); l.colorType = Int(bytes[25]); l.interlaced = bytes[28] != 0
        }
        var pos = 8
        while pos + 8 <= bytes.count {
            let length = be32(pos), type = bytes[(pos + 4)..<(pos + 8)]
            let dataStart = pos + 8
            if type.elementsEqual("IDAT".utf8) { l.compressedBytes += max(0, min(length, bytes.count - dataStart)) }
            if type.elementsEqual("tRNS".utf8) { l.hasTRNS = true }
            if type.elementsEqual("IEND".utf8) { break }
            pos = dataStart + length + 4
        }
        return l
    }

    /// Deflate's best ratio: a 258-byte match coded in 2 bits (1-bit length and distance codes).
    static let deflateMaxRatio = 1032.0

    /// Refuses a file whose compressed image data cannot hold the image its header claims: even
    /// at deflate's best ratio (1032:1), W x H pixels need at least raw/1032 bytes of IDAT data.
    /// Runs on the chunk headers alone, before any pixel memory is allocated, so that a 68-byte
    /// file claiming 13000 x 13000 costs nothing.
    static func checkDataSize(_ bytes: [UInt8], name: String) throws {
        let l = layout(bytes)
        guard l.channels > 0, l.bitDepth > 0 else { return }  // libpng names what is wrong
        let needed = Int((l.minimumRawBytes / deflateMaxRatio).rounded(.down))
        if l.compressedBytes < needed {
            throw ImageError.truncated(
                path: name,
                detail: "the file holds \(l.compressedBytes) bytes of compressed pixel data; a \(l.width)x\(l.height) image needs at least \(needed), even at deflate's best ratio of 1032:1")
        }
    }

    /// Bytes per pixel that `decode` holds at its peak: libpng's rows (16-bit samples take two
    /// bytes) plus the 8-bit copy made from them (high bytes, unpacked sub-byte gray).
    static func decodeBytesPerPixel(_ l: Layout) -> Int {
        let raw = l.channels * (l.bitDepth == 16 ? 2 : 1)
        if l.bitDepth == 16 { return raw + (l.colorType == 4 ? 2 * l.channels + 4 : l.channels) }
        return raw + (l.bitDepth < 8 ? 1 : 0)
    }

    /// Channels of the decoded image (`PixelMode.channels` of the mode `decode` returns).
    static func decodedChannels(_ l: Layout) -> Int { l.colorType == 4 && l.bitDepth == 16 ? 4 : l.channels }

    static func decode(_ bytes: [UInt8], name: String) throws -> DecodedImage {
        try checkDataSize(bytes, name: name)
        var i = try run(bytes, name: name, out: nil, outSize: 0)
        let w = Int(i.width), h = Int(i.height)
        let depth = Int(i.bit_depth), channels = Int(i.channels)
        let sampleBytes = depth == 16 ? 2 : 1
        let n = w * h * channels * sampleBytes
        var raw = [UInt8](repeating: 0, count: n)
        i = try raw.withUnsafeMutableBufferPointer { o in
            try run(bytes, name: name, out: o.baseAddress, outSize: n)
        }
        let count = w * h
        var image = DecodedImage(width: w, height: h, mode: .rgb)
        /// High byte of every 16-bit sample (Pillow's ";16B" raw modes).
        func highBytes() -> [UInt8] { (0..<(n / 2)).map { raw[2 * $0] } }
        let trns = i.has_trns != 0
        switch Int32(i.color_type) {
        case PNG_COLOR_TYPE_GRAY:
            switch depth {
            case 1:
                image.mode = .bilevel
                image.pixels = raw.map { $0 != 0 ? 255 : 0 }
                if trns { image.transparency = .gray(i.trans_gray != 0 ? 255 : 0) }
            case 2, 4, 8:
                image.mode = .gray
                let scale = UInt8(255 / ((1 << depth) - 1))
                image.pixels = depth == 8 ? raw : raw.map { $0 &* scale }
                if trns { image.transparency = .gray(Int(i.trans_gray)) }
            default:  // 16 bits: the high byte, like 16-bit RGB (not Pillow's clipping I;16)
                image.mode = .gray
                image.pixels = highBytes()
                if trns { image.transparency = .gray(Int(i.trans_gray)) }
            }
        case PNG_COLOR_TYPE_RGB:
            image.mode = .rgb
            image.pixels = depth == 16 ? highBytes() : raw
            if trns { image.transparency = .rgb(Int(i.trans_red), Int(i.trans_green), Int(i.trans_blue)) }
        case PNG_COLOR_TYPE_PALETTE:
            image.mode = .palette
            image.pixels = raw
            image.palette = withUnsafeBytes(of: i.palette) { Array($0.prefix(3 * Int(i.num_palette))) }
            if trns {
                let alphas = withUnsafeBytes(of: i.trans_alpha) { Array($0.prefix(Int(i.num_trans))) }
                // Pillow: one 0 among 255s -> a single transparent index; otherwise the alpha bytes.
                let zeros = alphas.filter { $0 == 0 }.count
                if zeros == 1 && alphas.allSatisfy({ $0 == 0 || $0 == 255 }) {
                    image.transparency = .paletteIndex(alphas.firstIndex(of: 0)!)
                } else {
                    image.transparency = .paletteAlpha(alphas)
                }
            }
        case PNG_COLOR_TYPE_GRAY_ALPHA:
            if depth == 16 {
                image.mode = .rgba
                let hb = highBytes()
                var px = [UInt8](repeating: 0, count: count * 4)
                for p in 0..<count {
                    let l = hb[2 * p], a = hb[2 * p + 1]
                    px[4 * p] = l; px[4 * p + 1] = l; px[4 * p + 2] = l; px[4 * p + 3] = a
                }
                image.pixels = px
            } else {
                image.mode = .grayAlpha
                image.pixels = raw
            }
        case PNG_COLOR_TYPE_RGB_ALPHA:
            image.mode = .rgba
            image.pixels = depth == 16 ? highBytes() : raw
        default:
            throw ImageError.unsupportedLayout(path: name, detail: "PNG colour type \(i.color_type)")
        }
        return image
    }
}
