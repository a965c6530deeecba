import Foundation
import KestrelFiles

/// Container formats recognised from their magic bytes.
public enum ImageFormat: String, Sendable {
    case jpeg = "JPEG", png = "PNG", gif = "GIF", webp = "WebP", bmp = "BMP", tiff = "TIFF", unknown

    /// Sniffs the first bytes; the file name's extension is never trusted.
    public static func sniff(_ b: [UInt8]) -> ImageFormat {
        func starts(_ m: [UInt8], at o: Int = 0) -> Bool { b.count >= o + m.count && Array(b[o..<o + m.count]) == m }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .webp }
        if starts(Array("BM".utf8)) { return .bmp }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        return .unknown
    }
}

/// Width, height and format, read from the header without decoding pixels.
public struct ImageHeader: Sendable, Equatable {
    public var format: ImageFormat
    public var width: Int
    public var height: Int

    public init(format: ImageFormat, width: Int, height: Int) {
        self.format = format
        self.width = width
        self.height = height
    }
}

/// Decodes JPEG (libjpeg-turbo) and PNG (libpng) files into Pillow-faithful `DecodedImage`s.
///
/// The header is read first and images with more than `pixelLimit` pixels are refused before
/// any pixel memory is allocated. The default, 178,956,970, is Pillow's own hard limit
/// (`2 * Image.MAX_IMAGE_PIXELS`, the point where Pillow raises `DecompressionBombError`).
///
/// With `orientation == .exif` (the default) a photo's EXIF Orientation tag is applied, so the
/// decoded image is upright as viewers show it; `.ignore` keeps the pixels as stored, which is
/// what both reference pipelines see (`PIL.Image.open` does not apply it).
public struct ImageDecoder: Sendable {
    public static let defaultPixelLimit = 178_956_970
    /// The largest image file read from disk, in bytes (512 MiB). A bigger file, or anything that
    /// is not a regular file (a FIFO, a folder, `/dev/zero`), is refused before any byte is read.
    public static let fileByteLimit = 512 << 20
    public var pixelLimit: Int
    public var orientation: OrientationHandling
    /// How `decode(bytes:name:minimumSize:)` decodes JPEGs; the plain `decode` is always exact.
    public var jpegDecoding: JPEGDecoding
    /// `.fast`: the reduced JPEG keeps at least this many times the pixels per side that the
    /// caller needs (Pillow's `thumbnail` drafts with `reducing_gap` 2.0 the same way), so the
    /// exact resize that follows still filters the picture, not the DCT scaling alone.
    public var reductionMargin: Double = 2

    public init(pixelLimit: Int = ImageDecoder.defaultPixelLimit, orientation: OrientationHandling = .exif,
                jpegDecoding: JPEGDecoding = .exact) {
        self.pixelLimit = pixelLimit
        self.orientation = orientation
        self.jpegDecoding = jpegDecoding
    }

    /// Reads and decodes the file at `url`. `ImageError.unreadable` when it cannot be read: its
    /// reason says what the file is when it is not a regular file, or that it is too large.
    public func decode(contentsOf url: URL) throws -> DecodedImage {
        try decode(path: FilePathBytes(url.path))
    }

    /// Reads and decodes the file at `path` (bytes, as the file system gives them), as `decode(contentsOf:)`.
    public func decode(path: FilePathBytes) throws -> DecodedImage {
        try decode(bytes: ImageDecoder.read(path), name: path.description)
    }

    /// The bytes of an image file, by kind and size first (never blocks on a FIFO, never reads
    /// `/dev/zero`): `ImageError.unreadable` naming the file when it cannot be read.
    public static func read(_ path: FilePathBytes) throws -> [UInt8] {
        do { return try FileSystem.readFile(path, limit: fileByteLimit) } catch let e as FileError {
            throw ImageError.unreadable(path: path.description, reason: e.reason)
        }
    }

    /// Decodes an in-memory file; `name` is used in errors.
    public func decode(bytes: [UInt8], name: String) throws -> DecodedImage {
        let header = try readHeader(bytes: bytes, name: name)
        try checkLimit(header, name: name)
        let image: DecodedImage
        switch header.format {
        case .jpeg: image = try JPEGCodec.decode(bytes, name: name)
        case .png: image = try PNGCodec.decode(bytes, name: name)
        default: throw ImageError.unsupportedFormat(path: name, format: header.format.rawValue)
        }
        guard orientation == .exif, let tag = EXIFOrientation.read(bytes, format: header.format) else { return image }
        return image.oriented(tag)
    }

    /// Decodes an in-memory file for a caller that needs only `minimumSize(width, height)`
    /// pixels of the upright picture (`width` x `height`, after EXIF orientation). With
    /// `jpegDecoding == .fast` a JPEG is decoded at the smallest DCT scale n/8 (1...8) whose
    /// picture still covers `reductionMargin` times that size on each side; the result carries the
    /// full size in `reduction`. PNGs, `.exact`, and JPEGs too small to reduce decode as `decode`
    /// does. The pixel limit is checked on the header's full size first, as always.
    public func decode(bytes: [UInt8], name: String, minimumSize: (_ width: Int, _ height: Int) -> (width: Int, height: Int)) throws -> DecodedImage {
        guard jpegDecoding == .fast else { return try decode(bytes: bytes, name: name) }
        let header = try readHeader(bytes: bytes, name: name)
        try checkLimit(header, name: name)
        guard header.format == .jpeg else { return try decode(bytes: bytes, name: name) }
        let tag = orientation == .exif ? EXIFOrientation.read(bytes, format: .jpeg) : nil
        let swaps = (tag ?? 1) >= 5
        let need = swaps ? minimumSize(header.height, header.width) : minimumSize(header.width, header.height)
        let (needW, needH) = swaps ? (need.height, need.width) : (need.width, need.height)  // in the stored frame
        let n = JPEGCodec.reductionNumerator(
            width: header.width, height: header.height,
            minWidth: Int((Double(needW) * reductionMargin).rounded(.up)), minHeight: Int((Double(needH) * reductionMargin).rounded(.up)))
        let image = try JPEGCodec.decode(bytes, name: name, numerator: n)
        guard let tag else { return image }
        return image.oriented(tag)
    }

    /// Reads only the header (format and size). Throws for unsupported formats.
    public func readHeader(contentsOf url: URL) throws -> ImageHeader {
        let path = FilePathBytes(url.path)
        return try readHeader(bytes: ImageDecoder.read(path), name: path.description)
    }

    public func readHeader(bytes: [UInt8], name: String) throws -> ImageHeader {
        if bytes.isEmpty { throw ImageError.empty(path: name) }
        let format = ImageFormat.sniff(bytes)
        switch format {
        case .jpeg:
            let (w, h) = try JPEGCodec.header(bytes, name: name)
            return ImageHeader(format: .jpeg, width: w, height: h)
        case .png:
            let (w, h) = try PNGCodec.header(bytes, name: name)
            return ImageHeader(format: .png, width: w, height: h)
        default:
            throw ImageError.unsupportedFormat(path: name, format: format.rawValue)
        }
    }

    /// What decoding a file holds in memory, from its header alone (nothing is decoded).
    struct DecodeCost {
        var width: Int, height: Int
        /// Bytes per pixel at the decoder's peak (its buffers plus the decoded pixels).
        var peakBytesPerPixel: Int
        /// Samples per pixel of the decoded image.
        var channels: Int
        /// An alpha channel or PNG tRNS: preprocessing may composite onto white (more copies).
        var transparent: Bool
    }

    /// Reads the header and sizes the decode; throws what `decode` would throw for the header
    /// (unsupported format, pixel limit, a file too small for its claimed size).
    func decodeCost(bytes: [UInt8], name: String) throws -> DecodeCost {
        let header = try readHeader(bytes: bytes, name: name)
        try checkLimit(header, name: name)
        switch header.format {
        case .png:
            try PNGCodec.checkDataSize(bytes, name: name)
            let l = PNGCodec.layout(bytes)
            return DecodeCost(width: header.width, height: header.height, peakBytesPerPixel: PNGCodec.decodeBytesPerPixel(l),
                              channels: PNGCodec.decodedChannels(l), transparent: l.colorType >= 4 || l.hasTRNS)
        default:  // JPEG (readHeader accepts only the two)
            let (peak, channels) = try JPEGCodec.decodeBytesPerPixel(bytes, name: name)
            return DecodeCost(width: header.width, height: header.height, peakBytesPerPixel: peak, channels: channels, transparent: false)
        }
    }

    private func checkLimit(_ h: ImageHeader, name: String) throws {
        if h.width <= 0 || h.height <= 0 {
            throw ImageError.corrupt(path: name, detail: "image size \(h.width)x\(h.height)")
        }
        if h.width.multipliedReportingOverflow(by: h.height).partialValue > pixelLimit
            || h.width > pixelLimit || h.height > pixelLimit
        {
            throw ImageError.tooManyPixels(path: name, width: h.width, height: h.height, limit: pixelLimit)
        }
    }
}

/// How JPEGs are decoded for preprocessing (`--jpeg-decode`).
public enum JPEGDecoding: String, Sendable, CaseIterable {
    /// Full size, bit-identical to Pillow's `Image.open(...).convert(...)`, then the resize:
    /// exactly what the reference pipelines compute.
    case exact
    /// libjpeg-turbo's DCT-domain scaling to the smallest n/8 that still holds
    /// `ImageDecoder.reductionMargin` times the resize target, then the same exact resize (with
    /// the picture's box, as Pillow's `draft` + `thumbnail`). Several times faster on photos
    /// much larger than the model input; the model input differs slightly (docs/benchmarks.md).
    case fast
}
