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
    /// Set when a JPEG was decoded at a reduced scale in the DCT domain (`JPEGDecoding.fast`):
    /// where the full picture lies in these pixels and how large it is. nil: full size.
    public var reduction: DCTReduction?

    /// The original picture's size in pixels: the full size of a reduced JPEG decode, else these pixels' size.
    public var fullSize: (width: Int, height: Int) {
        reduction.map { ($0.fullWidth, $0.fullHeight) } ?? (width, height)
    }

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

/// A JPEG decoded at scale `numerator`/8 by libjpeg-turbo's scaled inverse DCT. The decoded
/// size is ceil(full * numerator / 8) per side, so the last column or row may reach past the
/// picture: the picture is the box `x0..<x1, y0..<y1` (in decoded pixels, fractional), which
/// Pillow's `thumbnail` passes to `resize` after `draft` the same way.
public struct DCTReduction: Sendable, Equatable {
    /// The scale, numerator over 8 (1...7; 8 is no reduction).
    public var numerator: Int
    /// The full picture's size in pixels (upright, after any EXIF rotation).
    public var fullWidth: Int
    public var fullHeight: Int
    /// The picture's box in decoded pixels.
    public var x0: Double, y0: Double, x1: Double, y1: Double

    public init(numerator: Int, fullWidth: Int, fullHeight: Int) {
        self.numerator = numerator
        self.fullWidth = fullWidth
        self.fullHeight = fullHeight
        (x0, y0) = (0, 0)
        x1 = Double(fullWidth) * Double(numerator) / 8
        y1 = Double(fullHeight) * Double(numerator) / 8
    }

    /// The same box after EXIF orientation 1...8 of a `width` x `height` decoded image (see
    /// `DecodedImage.oriented`): flips mirror the box, transpositions swap the axes.
    func oriented(_ o: Int, width w: Int, height h: Int) -> DCTReduction {
        var r = self
        let W = Double(w), H = Double(h)
        switch o {
        case 2: (r.x0, r.x1) = (W - x1, W - x0)
        case 3: (r.x0, r.x1, r.y0, r.y1) = (W - x1, W - x0, H - y1, H - y0)
        case 4: (r.y0, r.y1) = (H - y1, H - y0)
        case 5: (r.x0, r.x1, r.y0, r.y1) = (y0, y1, x0, x1)
        case 6: (r.x0, r.x1, r.y0, r.y1) = (H - y1, H - y0, x0, x1)
        case 7: (r.x0, r.x1, r.y0, r.y1) = (H - y1, H - y0, W - x1, W - x0)
        case 8: (r.x0, r.x1, r.y0, r.y1) = (y0, y1, W - x1, W - x0)
        default: break
        }
        if o >= 5 { (r.fullWidth, r.fullHeight) = (fullHeight, fullWidth) }
        return r
    }
}
