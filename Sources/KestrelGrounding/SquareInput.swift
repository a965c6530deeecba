import Foundation
import KestrelEngine
import KestrelImage

/// How a picture of any shape becomes the model's square input for a dense heat map. No centre
/// crop either way, so the map covers the whole picture.
public enum SquareFit: String, Sendable, CaseIterable {
    /// Resized to S x S, the aspect ratio not kept (OWL-ViT's preprocessing): every input pixel
    /// used, objects stretched in a long picture.
    case resize
    /// Resized so the longer side is S, then padded at the right or bottom to S x S with the
    /// normalisation mean (0 after normalising), as OWLv2 pads: shapes kept, fewer patches on the picture.
    case pad
}

/// The model input for a picture under a `SquareFit`, and where the picture lies in it.
struct SquareInput {
    /// [3 * S * S], normalised as the model's preprocessing says.
    var pixels: [Float]
    /// The rectangle of the original picture the S x S input spans, in its pixels.
    var region: PixelBox

    /// Throws `ImageError` (a picture Kestrel cannot convert or resize).
    init(_ image: DecodedImage, fit: SquareFit, preprocessor: Preprocessor, size s: Int) throws {
        var config = preprocessor.config
        config.resize = .exact(height: s, width: s)
        config.crop = nil
        let square = Preprocessor(config: config, decoder: preprocessor.decoder)
        let (fullW, fullH) = image.fullSize
        switch fit {
        case .resize:
            pixels = try square(image).pixels
            region = PixelBox(x0: 0, y0: 0, x1: Double(fullW), y1: Double(fullH))
        case .pad:
            // Scaled first so that the longer side is S, then padded at the right or bottom with 0
            // (the normalisation mean): memory stays S x S whatever the picture's shape.
            let (w, h) = (image.width, image.height), side = max(w, h, 1)
            let tw = max(1, Int((Double(s) * Double(w) / Double(side)).rounded()))
            let th = max(1, Int((Double(s) * Double(h) / Double(side)).rounded()))
            var scaled = preprocessor.config
            scaled.resize = .exact(height: th, width: tw)
            scaled.crop = nil
            let small = try Preprocessor(config: scaled, decoder: preprocessor.decoder)(image)   // [3, th, tw]
            var out = [Float](repeating: 0, count: 3 * s * s)
            for c in 0..<3 {
                for y in 0..<th {
                    for x in 0..<tw { out[(c * s + y) * s + x] = small.pixels[(c * th + y) * tw + x] }
                }
            }
            pixels = out
            let scale = Double(fullW) / Double(max(w, 1))
            region = PixelBox(x0: 0, y0: 0, x1: Double(side) * scale, y1: Double(side) * scale)
        }
    }

    /// The picture as 8-bit RGB at its decoded size (alpha handled as the model's preprocessing does).
    static func rgb(_ image: DecodedImage, preprocessor: Preprocessor) throws -> (pixels: [UInt8], width: Int, height: Int) {
        var config = preprocessor.config
        config.resize = nil
        config.crop = nil
        var plain = image
        plain.reduction = nil
        let out = try Preprocessor(config: config, decoder: preprocessor.decoder).pixelsRGB(plain)
        return (out.pixels, out.width, out.height)
    }
}
