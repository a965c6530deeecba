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

    static func decode(_ bytes: [UInt8], name: String) throws -> DecodedImage {
        let i = try info(bytes, name: name)
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
}
