/// Errors from decoding and preprocessing. Every case names the file (or the model folder).
public enum ImageError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The file could not be read at all (missing, permissions).
    case unreadable(path: String, reason: String)
    /// Zero-byte file.
    case empty(path: String)
    /// A format we do not decode (`GIF`, `WebP`, `BMP`, `TIFF`, or `unknown`).
    case unsupportedFormat(path: String, format: String)
    /// The data ends before the image does.
    case truncated(path: String, detail: String)
    /// The decoder rejected the data.
    case corrupt(path: String, detail: String)
    /// The header declares more pixels than the decoder's limit; nothing was allocated.
    case tooManyPixels(path: String, width: Int, height: Int, limit: Int)
    /// The image resized for the model would have more pixels than the decoder's limit (a thin
    /// strip resized by its short side); nothing was allocated. It does not name the file: the
    /// caller, who knows it, puts the file's name in front.
    case resizedTooLarge(width: Int, height: Int, limit: Int)
    /// A valid file whose pixel layout we do not handle (e.g. a 2-component JPEG).
    case unsupportedLayout(path: String, detail: String)
    /// A preprocessing configuration that is missing, malformed or asks for something unsupported.
    case badConfig(path: String, detail: String)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): return "\(p): cannot read the file: \(r)"
        case .empty(let p): return "\(p): empty file (0 bytes)"
        case .unsupportedFormat(let p, let f): return "\(p): unsupported image format \(f) (JPEG and PNG only)"
        case .truncated(let p, let d): return "\(p): truncated image data (\(d))"
        case .corrupt(let p, let d): return "\(p): corrupt image data (\(d))"
        case .tooManyPixels(let p, let w, let h, let l):
            // A resized size can be absurd (a 1 x 4000 strip at 224 px): never trap on the product.
            let (pixels, overflow) = w.multipliedReportingOverflow(by: h)
            if overflow { return "\(p): \(w)x\(h) pixels is more than any pixel limit can allow" }
            return "\(p): \(w)x\(h) = \(pixels) pixels exceeds the limit of \(l) (possible decompression bomb); "
                + "to use it anyway, pass --pixel-limit \(pixels)"
        case .resizedTooLarge(let w, let h, let l):
            let (pixels, overflow) = w.multipliedReportingOverflow(by: h)
            if overflow { return "resized for the model, the image would be \(w)x\(h) pixels, more than any pixel limit can allow" }
            return "resized for the model, the image would be \(w)x\(h) = \(pixels) pixels, more than the limit of \(l); "
                + "to use it anyway, pass --pixel-limit \(pixels)"
        case .unsupportedLayout(let p, let d): return "\(p): unsupported pixel layout (\(d))"
        case .badConfig(let p, let d): return "\(p): bad preprocessing config (\(d))"
        }
    }
}
