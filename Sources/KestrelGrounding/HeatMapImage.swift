import Foundation
import KestrelImage

/// Heat maps drawn over their picture for a person to look at: the map upsampled (bilinear,
/// `HeatMap.value(x:y:)`) to every pixel of the picture, scaled from its own minimum (0) to its
/// maximum (1), coloured by a perceptual colour map (viridis anchors: dark blue low, yellow high),
/// blended over the picture with more weight where the map is high, and the boxes outlined
/// (white, with a black edge so they show on any background).
public enum HeatMapImage {
    /// Opacity of the colour at the map's minimum and at its maximum.
    public static let opacity: (low: Float, high: Float) = (0.25, 0.7)

    /// The picture (RGB8) with the heat map upsampled to its size and blended over it, and the
    /// boxes outlined; PNG bytes. Throws `ImageError` when the picture cannot be converted to RGB.
    public static func overlayPNG(_ image: DecodedImage, heatmap: HeatMap, boxes: [PixelBox]) throws -> [UInt8] {
        let (pixels, w, h) = try overlayRGB(image, heatmap: heatmap, boxes: boxes)
        return try PNGEncoder.encode(pixels: pixels, width: w, height: h, channels: 3, name: "heat map")
    }

    /// `overlayPNG`'s pixels: RGB8 rows, width, height (the decoded picture's size).
    public static func overlayRGB(_ image: DecodedImage, heatmap: HeatMap, boxes: [PixelBox]) throws -> ([UInt8], Int, Int) {
        let rgb = try SquareInput.rgb(image, preprocessor: Preprocessor(config: .huggingFace()))
        let (w, h) = (rgb.width, rgb.height)
        var out = rgb.pixels
        guard w > 0, h > 0 else { return (out, w, h) }
        // Picture pixels of the decoded image -> original-picture coordinates (a reduced JPEG decode).
        let (fullW, fullH) = image.fullSize
        let sx = Double(fullW) / Double(w), sy = Double(fullH) / Double(h)
        let finite = heatmap.values.filter(\.isFinite)
        let lo = finite.min() ?? 0, hi = finite.max() ?? 0
        let span = hi > lo ? hi - lo : 1
        for y in 0..<h {
            for x in 0..<w {
                var v = heatmap.value(x: (Double(x) + 0.5) * sx, y: (Double(y) + 0.5) * sy)
                v = v.isFinite ? min(max((v - lo) / span, 0), 1) : 0
                let colour = colourMap(v)
                let a = opacity.low + (opacity.high - opacity.low) * v
                let i = (y * w + x) * 3
                for c in 0..<3 { out[i + c] = UInt8((Float(out[i + c]) * (1 - a) + colour[c] * a).rounded()) }
            }
        }
        for box in boxes {
            let b = PixelBox(x0: box.x0 / sx, y0: box.y0 / sy, x1: box.x1 / sx, y1: box.y1 / sy)
            outline(&out, width: w, height: h, box: b, thickness: 3, colour: (0, 0, 0))
            outline(&out, width: w, height: h, box: b, thickness: 2, colour: (255, 255, 255))
        }
        return (out, w, h)
    }

    /// Viridis at t in 0...1 (eight anchors, linear between them), RGB 0...255.
    public static func colourMap(_ t: Float) -> [Float] {
        let anchors: [[Float]] = [[68, 1, 84], [70, 50, 126], [54, 92, 141], [39, 127, 142],
                                  [31, 161, 135], [74, 193, 109], [160, 218, 57], [253, 231, 37]]
        let x = min(max(t, 0), 1) * Float(anchors.count - 1)
        let i = min(Int(x), anchors.count - 2), f = x - Float(i)
        return (0..<3).map { anchors[i][$0] * (1 - f) + anchors[i + 1][$0] * f }
    }

    /// Draws the edge of `box` (pixels of this raster), `thickness` pixels inward from its border.
    static func outline(_ px: inout [UInt8], width w: Int, height h: Int, box: PixelBox, thickness: Int,
                        colour: (UInt8, UInt8, UInt8)) {
        let x0 = max(0, Int(box.x0.rounded(.down))), y0 = max(0, Int(box.y0.rounded(.down)))
        let x1 = min(w - 1, Int(box.x1.rounded(.up)) - 1), y1 = min(h - 1, Int(box.y1.rounded(.up)) - 1)
        guard x0 <= x1, y0 <= y1 else { return }
        func set(_ x: Int, _ y: Int) {
            let i = (y * w + x) * 3
            px[i] = colour.0; px[i + 1] = colour.1; px[i + 2] = colour.2
        }
        for k in 0..<thickness {
            let (ya, yb, xa, xb) = (y0 + k, y1 - k, x0 + k, x1 - k)
            guard ya <= yb, xa <= xb else { break }
            for x in xa...xb { set(x, ya); set(x, yb) }
            for y in ya...yb { set(xa, y); set(xb, y) }
        }
    }
}
