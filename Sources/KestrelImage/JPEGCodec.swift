import CJPEG

/// JPEG through libjpeg-turbo with Pillow's settings (libjpeg defaults: ISLOW IDCT, fancy
/// upsampling), so the decoded bytes match Pillow's. Modes: 1 component -> `L`, 3 -> `RGB`
/// (libjpeg's YCbCr->RGB), 4 -> `CMYK` (libjpeg's YCCK->CMYK, then inverted as Pillow's
/// "CMYK;I" raw mode does: Pillow always assumes Adobe polarity).
enum JPEGCodec {
    private static let messageCapacity = 200

    private static func fail(_ code: Int32, _ msg: [CChar], name: String) -> ImageError {
        let text = String(decoding: msg.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if code == Int32(KESTREL_JPEG_TRUNCATED) { return .truncated(path: name, detail: text) }
        return .corrupt(path: name, detail: text)
    }

    private static func info(_ bytes: [UInt8], name: String) throws -> kestrel_jpeg_info {
        var info = kestrel_jpeg_info()
        var msg = [CChar](repeating: 0, count: messageCapacity)
        let rc = bytes.withUnsafeBufferPointer { b in
            kestrel_jpeg_read_header(b.baseAddress, UInt(b.count), &info, &msg, messageCapacity)
        }
        if rc != 0 { throw fail(rc, msg, name: name) }
        return info
    }

    static func header(_ bytes: [UInt8], name: String) throws -> (Int, Int) {
        let i = try info(bytes, name: name)
        return (Int(i.width), Int(i.height))
    }

    /// Refuses a file too small to hold the image its frame header claims. With Huffman coding
    /// every 8x8 block costs at least one bit (its DC difference has a code of 1 bit or more, in
    /// a sequential scan and in a progressive DC scan). The component with the largest horizontal
    /// sampling factor has at least 1/4 of the full-size block count (vertical factors are at
    /// most 4), so W x H pixels need at least W*H/2048 bytes. Arithmetic coding has no such floor.
    /// Runs on the header alone, before any pixel memory is allocated.
    static func checkDataSize(_ bytes: [UInt8], _ i: kestrel_jpeg_info, name: String) throws {
        guard i.arith_code == 0 else { return }
        let needed = Int((Double(i.width) * Double(i.height) / 2048).rounded(.down))
        if bytes.count < needed {
            throw ImageError.truncated(
                path: name,
                detail: "the file has \(bytes.count) bytes; a \(i.width)x\(i.height) JPEG needs at least \(needed), one bit per 8x8 block")
        }
    }

    /// Bytes per pixel that `decode` holds at its peak: the output samples, plus libjpeg's
    /// coefficient arrays (2 bytes per sample per component) when the file has several scans.
    static func decodeBytesPerPixel(_ bytes: [UInt8], name: String) throws -> (peak: Int, channels: Int) {
        let i = try info(bytes, name: name)
        let c = Int(i.components)
        return (c + (i.multiple_scans != 0 ? 2 * c : 0), c)
    }

    /// Decodes at scale `numerator`/8 (1...8; 8, the default, is the exact full-size decode).
    /// A reduced decode records the full size and the picture's box in `reduction`.
    static func decode(_ bytes: [UInt8], name: String, numerator: Int = 8) throws -> DecodedImage {
        precondition((1...8).contains(numerator), "DCT scale numerator \(numerator) outside 1...8")
        let i = try info(bytes, name: name)
        try checkDataSize(bytes, i, name: name)
        if numerator != 8 { return try decodeReduced(bytes, i, name: name, numerator: numerator) }
        let w = Int(i.width), h = Int(i.height)
        let mode: PixelMode
        switch i.components {
        case 1: mode = .gray
        case 3: mode = .rgb
        case 4: mode = .cmyk
        default:
            throw ImageError.unsupportedLayout(path: name, detail: "JPEG with \(i.components) components")
        }
        let n = w * h * mode.channels
        var out = [UInt8](repeating: 0, count: n)
        var msg = [CChar](repeating: 0, count: messageCapacity)
        let rc = bytes.withUnsafeBufferPointer { b in
            out.withUnsafeMutableBufferPointer { o in
                kestrel_jpeg_decode(
                    b.baseAddress, UInt(b.count), o.baseAddress, n, Int32(mode.channels), &msg, messageCapacity)
            }
        }
        if rc != 0 { throw fail(rc, msg, name: name) }
        if mode == .cmyk {
            for k in 0..<n { out[k] = ~out[k] }
        }
        return DecodedImage(width: w, height: h, mode: mode, pixels: out)
    }

    /// Pixel mode of a JPEG with `components` components.
    private static func mode(_ i: kestrel_jpeg_info, name: String) throws -> PixelMode {
        switch i.components {
        case 1: return .gray
        case 3: return .rgb
        case 4: return .cmyk
        default: throw ImageError.unsupportedLayout(path: name, detail: "JPEG with \(i.components) components")
        }
    }

    private static func decodeReduced(_ bytes: [UInt8], _ i: kestrel_jpeg_info, name: String, numerator: Int) throws -> DecodedImage {
        let mode = try mode(i, name: name)
        var msg = [CChar](repeating: 0, count: messageCapacity)
        var w: Int32 = 0, h: Int32 = 0
        var rc = bytes.withUnsafeBufferPointer { b in
            kestrel_jpeg_scaled_size(b.baseAddress, UInt(b.count), Int32(numerator), &w, &h, &msg, messageCapacity)
        }
        if rc != 0 { throw fail(rc, msg, name: name) }
        let n = Int(w) * Int(h) * mode.channels
        var out = [UInt8](repeating: 0, count: n)
        rc = bytes.withUnsafeBufferPointer { b in
            out.withUnsafeMutableBufferPointer { o in
                kestrel_jpeg_decode_scaled(
                    b.baseAddress, UInt(b.count), o.baseAddress, n, Int32(mode.channels), Int32(numerator), &msg, messageCapacity)
            }
        }
        if rc != 0 { throw fail(rc, msg, name: name) }
        if mode == .cmyk {
            for k in 0..<n { out[k] = ~out[k] }
        }
        var image = DecodedImage(width: Int(w), height: Int(h), mode: mode, pixels: out)
        image.reduction = DCTReduction(numerator: numerator, fullWidth: Int(i.width), fullHeight: Int(i.height))
        return image
    }

    /// The smallest scale numerator (1...8, over 8) at which a `width` x `height` JPEG still
    /// covers `minWidth` x `minHeight` pixels of picture (width * n / 8 >= minWidth and the same
    /// for heights); 8 when even the full size does not.
    static func reductionNumerator(width: Int, height: Int, minWidth: Int, minHeight: Int) -> Int {
        for n in 1...7 where width * n >= 8 * minWidth && height * n >= 8 * minHeight { return n }
        return 8
    }
}
