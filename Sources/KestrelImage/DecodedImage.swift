/// Pixel modes, named as Pillow names them: a decoded image holds what `PIL.Image.open` would
/// hold, so that each reference pipeline's conversions can be reproduced exactly.
public enum PixelMode: String, Sendable, CaseIterable {
    case bilevel = "1"  // 1-bit gray; stored as 0 / 255 like Pillow
    case gray = "L"
    case grayAlpha = "LA"
    case rgb = "RGB"
    case rgba = "RGBA"
    case palette = "P"
    case gray16 = "I;16"  // 16-bit gray PNG
    case cmyk = "CMYK"  // JPEG CMYK/YCCK, in Pillow's (Adobe-inverted) polarity

    /// Interleaved 8-bit samples per pixel (`gray16` holds one 16-bit sample instead).
    public var channels: Int {
        switch self {
        case .bilevel, .gray, .palette, .gray16: return 1
        case .grayAlpha: return 2
        case .rgb: return 3
        case .rgba, .cmyk: return 4
        }
    }
}

/// Transparency without an alpha channel, as Pillow keeps it in `im.info["transparency"]`.
/// Values are the raw samples from the PNG tRNS chunk (not rescaled to 8 bits, like Pillow).
public enum Transparency: Equatable, Sendable {
    /// One fully transparent palette entry, all others opaque.
    case paletteIndex(Int)
    /// Alpha per palette entry; entries past the end are opaque.
    case paletteAlpha([UInt8])
    /// Gray value that is transparent (modes `1`, `L`, `I;16`).
    case gray(Int)
    /// RGB value that is transparent.
    case rgb(Int, Int, Int)
}

/// A decoded image, faithful to Pillow's in-memory representation.
public struct DecodedImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var mode: PixelMode
    /// Row-major interleaved 8-bit samples, `mode.channels` per pixel. Empty for `gray16`.
    public var pixels: [UInt8]
    /// Row-major 16-bit samples for `gray16`; empty otherwise.
    public var samples16: [UInt16]
    /// `P` only: RGB triples, as many entries as the file's palette has.
    public var palette: [UInt8]
    public var transparency: Transparency?

    public init(
        width: Int, height: Int, mode: PixelMode, pixels: [UInt8] = [], samples16: [UInt16] = [],
        palette: [UInt8] = [], transparency: Transparency? = nil
    ) {
        self.width = width
        self.height = height
        self.mode = mode
        self.pixels = pixels
        self.samples16 = samples16
        self.palette = palette
        self.transparency = transparency
    }

    /// True when Hugging Face's `convert_to_rgb` would composite onto white: an alpha band or
    /// `info["transparency"]`.
    public var hasTransparency: Bool {
        mode == .grayAlpha || mode == .rgba || transparency != nil
    }
}
