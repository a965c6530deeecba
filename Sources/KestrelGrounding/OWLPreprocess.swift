import Foundation
import KestrelImage
import KestrelModels

/// An OWL model's input for one picture and how its boxes map back to the picture's pixels.
public struct OWLInput: Sendable {
    /// [3, S, S] planar floats, normalised.
    public var pixels: [Float]
    /// The original picture's size in pixels.
    public var width: Int
    public var height: Int
    /// A normalised box coordinate times this is in pixels, per axis: OWL-ViT (W, H) (the picture
    /// was stretched to the square); OWLv2 (max(W, H), max(W, H)) (the picture was padded to a
    /// square on the right or bottom first). As transformers' `post_process_object_detection`.
    public var scaleX: Double
    public var scaleY: Double

    public init(pixels: [Float], width: Int, height: Int, scaleX: Double, scaleY: Double) {
        self.pixels = pixels; self.width = width; self.height = height; self.scaleX = scaleX; self.scaleY = scaleY
    }
}

/// Preprocessing as transformers 5.24's default OWL image processors (the torchvision-backed
/// `OwlViTImageProcessor` and `Owlv2ImageProcessor`, which `AutoImageProcessor` picks for these folders):
/// - OWL-ViT: RGB (transparency composited onto white), resize to S x S without crop (uint8,
///   antialiased, bicubic by default: `OWLResize.antialiasedUInt8`), x / 255, (x - mean) / std.
/// - OWLv2: RGB, x / 255, pad right and bottom with 0 to a square, Gaussian blur with sigma
///   (side / S - 1) / 2 when shrinking, bilinear resize to S x S (no antialias), (x - mean) / std.
public struct OWLPreprocess: Sendable {
    public var kind: OWLKind
    public var size: Int
    public var mean: [Float]
    public var std: [Float]
    public var rescale: Double
    public var filter: ResampleFilter
    public var pad: Bool

    /// OWLv2: the largest padded square side, in pixels (16,384: a 16,384 x 16,384 square of
    /// floats is 3 GiB; a 12-megapixel photo pads to 4,000 x 4,000).
    public static let largestPaddedSide = 16_384

    public init(kind: OWLKind, size: Int) {
        self.kind = kind; self.size = size
        mean = PreprocessConfig.openAIMean; std = PreprocessConfig.openAIStd
        rescale = 1.0 / 255.0
        filter = kind == .owlvit ? .bicubic : .bilinear
        pad = kind == .owlv2
    }

    /// Reads `preprocessor_config.json` of `folder` (absent: the processor's defaults at the model's
    /// size). Throws `ModelError.badConfigField` naming the field: a size other than the model's
    /// `imageSize`, a crop, an unknown resample, switched-off steps Kestrel does not implement.
    public static func load(folder: URL, kind: OWLKind, imageSize: Int) throws -> OWLPreprocess {
        var p = OWLPreprocess(kind: kind, size: imageSize)
        let url = folder.appendingPathComponent("preprocessor_config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else { return p }
        func bad(_ field: String, _ why: String) -> ModelError { .badConfigField(file: url, field: field, reason: why) }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError.unreadableConfig(url, reason: "not a JSON object")
        }
        if let size = root["size"] {
            let side: Int?
            if let n = size as? Int { side = n }
            else if let d = size as? [String: Any], let h = d["height"] as? Int, let w = d["width"] as? Int, h == w { side = h }
            else { side = nil }
            guard let side, side == imageSize else {
                throw bad("size", "is \(size); the model takes \(imageSize) x \(imageSize) pictures (vision_config.image_size)")
            }
        }
        if root["do_center_crop"] as? Bool == true { throw bad("do_center_crop", "is true; OWL resizes the whole picture without a crop") }
        for key in ["do_resize", "do_rescale", "do_normalize", "do_convert_rgb"] where root[key] as? Bool == false {
            throw bad(key, "is false; Kestrel runs OWL models with this step on, as they were trained")
        }
        if let v = root["do_pad"] as? Bool {
            if kind == .owlv2 && !v { throw bad("do_pad", "is false; OWLv2 pictures are padded to a square") }
        }
        func triple(_ key: String) throws -> [Float]? {
            guard let v = root[key] else { return nil }
            guard let a = v as? [NSNumber], a.count == 3, a.allSatisfy({ $0.doubleValue.isFinite }) else {
                throw bad(key, "must be 3 finite numbers, got \(v)")
            }
            return a.map(\.floatValue)
        }
        if let m = try triple("image_mean") { p.mean = m }
        if let s = try triple("image_std") {
            guard s.allSatisfy({ $0 > 1e-6 }) else { throw bad("image_std", "must be positive, got \(s)") }
            p.std = s
        }
        if let r = root["rescale_factor"] {
            guard let x = (r as? NSNumber)?.doubleValue, x.isFinite, x > 0 else { throw bad("rescale_factor", "must be a positive number, got \(r)") }
            p.rescale = x
        }
        if let r = root["resample"] {
            switch r as? Int {
            case 2?: p.filter = .bilinear
            case 3?: p.filter = .bicubic
            default: throw bad("resample", "is \(r); Kestrel implements 2 (bilinear) and 3 (bicubic)")
            }
        }
        return p
    }

    /// The model input for a decoded picture (orientation already applied).
    public func callAsFunction(_ image: DecodedImage) throws -> OWLInput {
        let rgb = try Preprocessor(config: {
            var c = PreprocessConfig.huggingFace(size: size)
            c.resize = nil; c.crop = nil
            return c
        }()).pixelsRGB(image)
        let (w, h) = (rgb.width, rgb.height)
        guard w > 0, h > 0 else { throw GroundingError.badQuery("the picture is empty") }
        let s = size
        switch kind {
        case .owlvit:
            let resized = OWLResize.antialiasedUInt8(rgb.pixels, width: w, height: h, outWidth: s, outHeight: s, filter: filter)
            var out = [Float](repeating: 0, count: 3 * s * s)
            for c in 0..<3 {
                for i in 0..<(s * s) {
                    out[c * s * s + i] = (Float(Double(resized[3 * i + c]) * rescale) - mean[c]) / std[c]
                }
            }
            return OWLInput(pixels: out, width: w, height: h, scaleX: Double(w), scaleY: Double(h))
        case .owlv2:
            let n = max(w, h)
            // The blur's kernel grows with the padded side (about 3·n/S taps): refuse a side past
            // 16,384 px (a 1 x 100,000 strip) rather than run for minutes.
            if n > Self.largestPaddedSide {
                throw ImageError.resizedTooLarge(width: n, height: n, limit: Self.largestPaddedSide * Self.largestPaddedSide)
            }
            // Pad, blur and resize computed only where the resize reads (`OWLResize.padBlurResize`).
            let sigma = n != s ? max((Float(n) / Float(s) - 1) / 2, 0) : 0   // none when no resize
            var padded = OWLResize.padBlurResize(rgb.pixels, width: w, height: h, sigma: sigma, to: s, rescale: rescale)
            for c in 0..<3 {
                for i in 0..<(s * s) { padded[c * s * s + i] = (padded[c * s * s + i] - mean[c]) / std[c] }
            }
            return OWLInput(pixels: padded, width: w, height: h, scaleX: Double(n), scaleY: Double(n))
        }
    }
}
