import Foundation
import KestrelFiles

/// A preprocessed image: `[3, height, width]` floats, channel-major (CHW), normalised.
public struct PreprocessedImage: Sendable, Equatable {
    public var height: Int
    public var width: Int
    public var pixels: [Float]
}

/// Turns decoded images into model input, following the checkpoint's ecosystem exactly.
public struct Preprocessor: Sendable {
    public var config: PreprocessConfig
    public var decoder: ImageDecoder

    public init(config: PreprocessConfig, decoder: ImageDecoder = ImageDecoder()) {
        self.config = config
        self.decoder = decoder
    }

    /// Decodes and preprocesses the file at `url`.
    public func callAsFunction(contentsOf url: URL) throws -> PreprocessedImage {
        let path = FilePathBytes(url.path)
        return try self(try decode(bytes: ImageDecoder.read(path), name: path.description))
    }

    /// An upper estimate, in bytes, of the memory that decoding `bytes` and preprocessing the
    /// image hold at once: the decoder's buffers, the decoded pixels, an EXIF rotation's copy,
    /// mode conversions (compositing onto white makes RGBA and RGB copies), both resize passes
    /// and the crop. Read from the header alone; nothing is decoded or allocated. Throws what
    /// decoding would throw for the header (`ImageError`: unsupported format, pixel limit,
    /// data too short for the size the header claims). Callers that decode many files at once
    /// use it to bound the memory they hold together.
    public func memoryEstimate(bytes: [UInt8], name: String) throws -> Int {
        let cost = try decoder.decodeCost(bytes: bytes, name: name)
        let (w, h, c) = (Double(cost.width), Double(cost.height), cost.channels)
        // Per source pixel: the decoder's peak; a rotation holds two copies; conversion holds the
        // image plus RGB (3), or plus RGBA and RGB (7) when compositing.
        let perPixel = max(cost.peakBytesPerPixel, 2 * c, c + (cost.transparent ? 7 : 3))
        // Resizing: the first pass (either order) and the result, at most 4 bytes a pixel; then
        // the crop and the floats. EXIF rotation may swap the sides, so take the larger order.
        let (oh1, ow1) = outputSize(height: cost.height, width: cost.width)
        let (oh2, ow2) = outputSize(height: cost.width, width: cost.height)
        let resize = max(Double(oh1) * (w + Double(ow1)) + h * Double(ow1), Double(oh2) * (h + Double(ow2)) + w * Double(ow2)) * 4
        let crop = config.crop.map { Double($0.height) * Double($0.width) * (3 + 12) } ?? 0
        let total = w * h * Double(perPixel) + resize + crop
        return total >= Double(Int.max / 2) ? Int.max / 2 : Int(total)
    }

    /// The upright size, in pixels, that preprocessing resizes a `width` x `height` picture to
    /// (before the crop): what a reduced decode must still cover (`ImageDecoder.decode(bytes:name:minimumSize:)`).
    /// Without a resize, the full size.
    public func minimumDecodeSize(width: Int, height: Int) -> (width: Int, height: Int) {
        let (oh, ow) = outputSize(height: height, width: width)
        return (ow, oh)
    }

    /// Decodes an in-memory file as this preprocessing needs it: with the decoder's
    /// `jpegDecoding == .fast`, a large JPEG at a reduced DCT scale (see `minimumDecodeSize`).
    public func decode(bytes: [UInt8], name: String) throws -> DecodedImage {
        try decoder.decode(bytes: bytes, name: name) { w, h in minimumDecodeSize(width: w, height: h) }
    }

    /// Preprocesses a decoded image.
    public func callAsFunction(_ image: DecodedImage) throws -> PreprocessedImage {
        let rgb = try pixelsRGB(image)
        return normalise(rgb.pixels, height: rgb.height, width: rgb.width)
    }

    /// The uint8 RGB image just before rescaling (after resize, crop and conversion); the
    /// pipelines' floats are a fixed function of these bytes.
    public func pixelsRGB(_ image: DecodedImage) throws -> (pixels: [UInt8], height: Int, width: Int) {
        // The resized size follows the image's aspect ratio: a 1 x 4000 strip at 224 would be
        // 224 x 896,000. Refuse it under the decoder's pixel limit before allocating it.
        let (oh, ow) = outputSize(of: image)
        let (pixels, overflow) = oh.multipliedReportingOverflow(by: ow)
        if overflow || pixels > decoder.pixelLimit {
            throw ImageError.resizedTooLarge(width: ow, height: oh, limit: decoder.pixelLimit)
        }
        switch config.ecosystem {
        case .huggingFace: return huggingFaceRGB(image)
        case .openCLIP: return openCLIPRGB(image)
        }
    }

    // MARK: - Sizes and crops

    /// The resized size of a decoded image: from its full size when the decode was reduced.
    func outputSize(of image: DecodedImage) -> (Int, Int) {
        if let r = image.reduction { return outputSize(height: r.fullHeight, width: r.fullWidth) }
        return outputSize(height: image.height, width: image.width)
    }

    /// The picture's box in a reduced decode, for the resize; nil at full size.
    static func box(_ image: DecodedImage) -> (x0: Double, y0: Double, x1: Double, y1: Double)? {
        image.reduction.map { ($0.x0, $0.y0, $0.x1, $0.y1) }
    }

    func outputSize(height h: Int, width w: Int) -> (Int, Int) {
        switch config.resize {
        case nil: return (h, w)
        case .exact(let oh, let ow)?: return (oh, ow)
        case .shortestEdge(let s)?:
            // transformers' get_resize_output_image_size / torchvision's _compute_resized_output_size
            if w <= h { return (Int(Double(s) * Double(h) / Double(w)), s) }
            return (s, Int(Double(s) * Double(w) / Double(h)))
        }
    }

    /// Centre crop of interleaved `c`-channel pixels; out-of-image samples are 0 (zero padding,
    /// as transformers pads). `top`/`left` may be negative.
    static func crop(
        _ px: [UInt8], height h: Int, width w: Int, channels c: Int, top: Int, left: Int, ch: Int, cw: Int
    ) -> [UInt8] {
        if top == 0 && left == 0 && ch == h && cw == w { return px }
        var out = [UInt8](repeating: 0, count: ch * cw * c)
        for y in 0..<ch {
            let sy = y + top
            if sy < 0 || sy >= h { continue }
            for x in 0..<cw {
                let sx = x + left
                if sx < 0 || sx >= w { continue }
                for k in 0..<c { out[(y * cw + x) * c + k] = px[(sy * w + sx) * c + k] }
            }
        }
        return out
    }

    // MARK: - Hugging Face: convert, resize, crop (floor)

    func huggingFaceRGB(_ image: DecodedImage) -> (pixels: [UInt8], height: Int, width: Int) {
        var rgb: [UInt8]
        if image.hasTransparency && config.alpha == .compositeOnWhite {
            rgb = PILConvert.compositeOnWhite(PILConvert.toRGBA(image), count: image.width * image.height)
        } else {
            rgb = PILConvert.toRGB(image)
        }
        var (h, w) = (image.height, image.width)
        let (oh, ow) = outputSize(of: image)
        rgb = PILResample.resample8(rgb, width: w, height: h, channels: 3, outWidth: ow, outHeight: oh, filter: config.filter,
                                    box: Self.box(image))
        (h, w) = (oh, ow)
        if let (ch, cw) = config.crop {
            // transformers' center_crop: top = (H - S) // 2; when the image is smaller it pads by
            // ceil((S - H) / 2) first, which lands on the same offsets as floor division.
            let padTop = ch > h ? (ch - h + 1) / 2 : 0, padLeft = cw > w ? (cw - w + 1) / 2 : 0
            let top = (max(h, ch) - ch) / 2 - padTop, left = (max(w, cw) - cw) / 2 - padLeft
            rgb = Self.crop(rgb, height: h, width: w, channels: 3, top: top, left: left, ch: ch, cw: cw)
            (h, w) = (ch, cw)
        }
        return (rgb, h, w)
    }

    // MARK: - OpenCLIP: resize and crop in the file's mode, then convert("RGB")

    func openCLIPRGB(_ input: DecodedImage) -> (pixels: [UInt8], height: Int, width: Int) {
        var im = input
        if input.hasTransparency && config.alpha == .compositeOnWhite {
            let rgb = PILConvert.compositeOnWhite(PILConvert.toRGBA(input), count: input.width * input.height)
            im = DecodedImage(width: input.width, height: input.height, mode: .rgb, pixels: rgb)
        }
        let (oh, ow) = outputSize(of: im)
        let c = im.mode.channels
        switch im.mode {
        case .palette, .bilevel:  // Pillow resizes "P" and "1" with NEAREST whatever the filter
            im.pixels = PILResample.nearest(im.pixels, width: im.width, height: im.height, channels: c, outWidth: ow, outHeight: oh)
        case .rgba, .grayAlpha:  // resized premultiplied ("RGBa" / "La")
            if oh != im.height || ow != im.width {
                var p = im.pixels
                PILConvert.premultiply(&p, channels: c)
                p = PILResample.resample8(p, width: im.width, height: im.height, channels: c, outWidth: ow, outHeight: oh, filter: config.filter)
                PILConvert.unpremultiply(&p, channels: c)
                im.pixels = p
            }
        case .gray, .rgb, .cmyk:
            im.pixels = PILResample.resample8(im.pixels, width: im.width, height: im.height, channels: c, outWidth: ow, outHeight: oh,
                                              filter: config.filter, box: Self.box(im))
        }
        im.width = ow
        im.height = oh
        im.reduction = nil
        if let (ch, cw) = config.crop {
            // torchvision CenterCrop: int(round((H - S) / 2.0)), Python rounds half to even.
            let top = Int((Double(oh - ch) / 2.0).rounded(.toNearestOrEven))
            let left = Int((Double(ow - cw) / 2.0).rounded(.toNearestOrEven))
            im.pixels = Self.crop(im.pixels, height: oh, width: ow, channels: c, top: top, left: left, ch: ch, cw: cw)
            im.width = cw
            im.height = ch
        }
        return (PILConvert.toRGB(im), im.height, im.width)
    }

    // MARK: - To floats

    func normalise(_ rgb: [UInt8], height h: Int, width w: Int) -> PreprocessedImage {
        let n = h * w
        var out = [Float](repeating: 0, count: 3 * n)
        for c in 0..<3 {
            let mean = config.mean?[c], std = config.std?[c]
            for i in 0..<n {
                let v = rgb[3 * i + c]
                var x: Float
                switch config.ecosystem {
                case .huggingFace:  // rescale in float64, cast to float32 (transformers' rescale)
                    x = config.rescaleFactor.map { Float(Double(v) * $0) } ?? Float(v)
                case .openCLIP:  // ToTensor: float32 division by 255
                    x = Float(v) / 255
                }
                if let mean, let std { x = (x - mean) / std }
                out[c * n + i] = x
            }
        }
        return PreprocessedImage(height: h, width: w, pixels: out)
    }
}
