import CPNG

/// Writes 8-bit PNGs (libpng's simplified write API): data built for training, plots, heat maps.
public enum PNGEncoder {
    /// `pixels`: height rows of width × channels bytes, top to bottom; channels 1 (gray),
    /// 2 (gray+alpha), 3 (RGB) or 4 (RGBA). Throws `ImageError.corrupt` naming `name` when
    /// libpng refuses.
    public static func encode(pixels: [UInt8], width: Int, height: Int, channels: Int,
                              name: String = "PNG output") throws -> [UInt8] {
        precondition((1...4).contains(channels), "PNGEncoder: channels must be 1...4, got \(channels)")
        precondition(width > 0 && height > 0 && pixels.count == width * height * channels,
                     "PNGEncoder: \(pixels.count) bytes for \(width)x\(height)x\(channels)")
        var msg = [CChar](repeating: 0, count: 200)
        // One compression pass: a buffer for the worst case (stored deflate blocks: the filtered rows
        // plus 5 bytes per 16 KiB block, headers and chunks); libpng reports the size it needed
        // (and fails) only if that were too small, and then a second pass writes into that size.
        let raw = pixels.count + height
        var capacity = raw + raw / 1000 * 5 + 5 * (raw / 16384 + 1) + 1024
        var out = [UInt8](repeating: 0, count: capacity)
        var size = capacity
        var rc = pixels.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                kestrel_png_encode(p.baseAddress, UInt32(width), UInt32(height), Int32(channels), o.baseAddress, &size, &msg, 200)
            }
        }
        if rc != 0 && size > capacity {
            capacity = size
            out = [UInt8](repeating: 0, count: capacity)
            rc = pixels.withUnsafeBufferPointer { p in
                out.withUnsafeMutableBufferPointer { o in
                    kestrel_png_encode(p.baseAddress, UInt32(width), UInt32(height), Int32(channels), o.baseAddress, &size, &msg, 200)
                }
            }
        }
        if rc != 0 { throw ImageError.corrupt(path: name, detail: String(cString: msg)) }
        return Array(out.prefix(size))
    }
}
