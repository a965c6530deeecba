import CJPEG

/// Writes baseline JPEGs through libjpeg-turbo, for benchmarks and tests that need photo-sized
/// files of known content (`kestrel-bench ingest-jpeg`). Not a general image writer: 8-bit gray
/// or RGB only, libjpeg's default settings (4:2:0 chroma for RGB) at the given quality.
public enum JPEGWriter {
    /// `pixels`: [height, width, channels] packed, channels 1 (gray) or 3 (RGB). `quality` 1...100.
    /// `exifOrientation` (1...8) adds a minimal APP1 Exif block holding only that tag, as a camera
    /// writes it. Throws `ImageError.corrupt` (path "<memory>") when libjpeg refuses the input.
    public static func encode(_ pixels: [UInt8], width: Int, height: Int, channels: Int, quality: Int,
                              exifOrientation: Int? = nil) throws -> [UInt8] {
        precondition(channels == 1 || channels == 3, "JPEGWriter takes 1 or 3 channels, got \(channels)")
        precondition(pixels.count == width * height * channels, "JPEGWriter: \(pixels.count) samples for \(width)x\(height)x\(channels)")
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        var msg = [CChar](repeating: 0, count: 200)
        let rc = pixels.withUnsafeBufferPointer { p in
            kestrel_jpeg_encode(p.baseAddress, Int32(width), Int32(height), Int32(channels), Int32(max(1, min(100, quality))),
                                &out, &size, &msg, 200)
        }
        defer { if let out { kestrel_jpeg_free(out) } }
        guard rc == 0, let out else {
            let text = String(decoding: msg.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ImageError.corrupt(path: "<memory>", detail: text)
        }
        let bytes = Array(UnsafeBufferPointer(start: out, count: Int(size)))
        guard let o = exifOrientation else { return bytes }
        // APP1: "Exif\0\0", little-endian TIFF header, IFD0 with one SHORT entry (0x0112).
        var tiff: [UInt8] = [0x49, 0x49, 42, 0, 8, 0, 0, 0, 1, 0]
        tiff += [0x12, 0x01, 3, 0, 1, 0, 0, 0, UInt8(o), 0, 0, 0]
        tiff += [0, 0, 0, 0]  // no next IFD
        let body: [UInt8] = Array("Exif".utf8) + [0, 0] + tiff
        let length = body.count + 2
        return [0xFF, 0xD8, 0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + body + bytes.dropFirst(2)
    }
}
