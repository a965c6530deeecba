import Foundation
import KestrelEngine
import KestrelImage

/// How a picture of any shape becomes the model's square input for a dense heat map. No centre
/// crop either way, so the map covers the whole picture.
public enum SquareFit: String, Sendable, CaseIterable {
    /// Resized to S x S, the aspect ratio not kept (OWL-ViT's preprocessing): every input pixel
    /// used, objects stretched in a long picture.
    case resize
    /// Padded at the right or bottom to a square with the normalisation mean (0 after
    /// normalising), then resized (OWLv2's preprocessing): shapes kept, fewer patches on the picture.
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
        let (fullW, fullH) = image.reduction.map { ($0.fullWidth, $0.fullHeight) } ?? (image.width, image.height)
        switch fit {
        case .resize:
            pixels = try square(image).pixels
            region = PixelBox(x0: 0, y0: 0, x1: Double(fullW), y1: Double(fullH))
        case .pad:
            let rgb = try SquareInput.rgb(image, preprocessor: preprocessor)
            let side = max(rgb.width, rgb.height)
            let mean = (config.mean ?? [0.5, 0.5, 0.5]).map { UInt8(min(max(($0 * 255).rounded(), 0), 255)) }
            var padded = [UInt8](repeating: 0, count: side * side * 3)
            for i in 0..<(side * side) { padded[3 * i] = mean[0]; padded[3 * i + 1] = mean[1]; padded[3 * i + 2] = mean[2] }
            for y in 0..<rgb.height {
                for x in 0..<rgb.width { for c in 0..<3 { padded[(y * side + x) * 3 + c] = rgb.pixels[(y * rgb.width + x) * 3 + c] } }
            }
            pixels = try square(DecodedImage(width: side, height: side, mode: .rgb, pixels: padded)).pixels
            let scale = Double(fullW) / Double(max(rgb.width, 1))
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
