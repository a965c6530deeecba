/// Pixel modes, named as Pillow names them: a decoded image holds what `PIL.Image.open` would
/// hold, so that each reference pipeline's conversions can be reproduced exactly. One deliberate
/// difference: 16-bit gray PNGs are 8-bit `L` (the high byte of each sample, as viewers show
/// them and as Pillow reads 16-bit RGB), not Pillow's `I;16`, which `convert("RGB")` clips to 255.
public enum PixelMode: String, Sendable, CaseIterable {
    case bilevel = "1"  // 1-bit gray; stored as 0 / 255 like Pillow
    case gray = "L"
    case grayAlpha = "LA"
    case rgb = "RGB"
    case rgba = "RGBA"
    case palette = "P"
    case cmyk = "CMYK"  // JPEG CMYK/YCCK, in Pillow's (Adobe-inverted) polarity

    /// Interleaved 8-bit samples per pixel.
    public var channels: Int {
        switch self {
        case .bilevel, .gray, .palette: return 1
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
    /// Gray value that is transparent (modes `1`, `L`), as the file stores it (16 bits for a 16-bit PNG).
    case gray(Int)
    /// RGB value that is transparent.
    case rgb(Int, Int, Int)
}

/// A decoded image, faithful to Pillow's in-memory representation.
public struct DecodedImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var mode: PixelMode
    /// Row-major interleaved 8-bit samples, `mode.channels` per pixel.
    public var pixels: [UInt8]
    /// `P` only: RGB triples, as many entries as the file's palette has.
    public var palette: [UInt8]
    public var transparency: Transparency?

    public init(
        width: Int, height: Int, mode: PixelMode, pixels: [UInt8] = [],
        palette: [UInt8] = [], transparency: Transparency? = nil
    ) {
        self.width = width
        self.height = height
        self.mode = mode
        self.pixels = pixels
        self.palette = palette
        self.transparency = transparency
    }

    /// True when Hugging Face's `convert_to_rgb` would composite onto white: an alpha band or
    /// `info["transparency"]`.
    public var hasTransparency: Bool {
        mode == .grayAlpha || mode == .rgba || transparency != nil
    }
}
