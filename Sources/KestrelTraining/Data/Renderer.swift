import Foundation

/// Shapes the scene renderer draws.
public enum SceneShape: String, CaseIterable, Sendable, Codable {
    case circle, square, triangle, star, hexagon, diamond
    public var plural: String { rawValue + "s" }
}

/// A named colour, well separated from the others in RGB.
public struct SceneColour: Sendable, Equatable {
    public var name: String
    public var rgb: (Float, Float, Float)
    public static func == (a: SceneColour, b: SceneColour) -> Bool { a.name == b.name }
    public static let all: [SceneColour] = [
        .init(name: "red", rgb: (220, 30, 35)), .init(name: "green", rgb: (35, 165, 55)),
        .init(name: "blue", rgb: (35, 75, 225)), .init(name: "yellow", rgb: (250, 215, 25)),
        .init(name: "orange", rgb: (250, 135, 20)), .init(name: "purple", rgb: (135, 55, 185)),
        .init(name: "brown", rgb: (125, 75, 35)), .init(name: "black", rgb: (25, 25, 25)),
    ]
}

public enum SceneTexture: String, CaseIterable, Sendable { case solid, striped, dotted }
public enum SceneBackground: String, CaseIterable, Sendable {
    case white, gray, gradient, noisy
}

/// One object: shape, colour and texture, centre and radius in pixels (y down).
public struct SceneObject: Sendable {
    public var shape: SceneShape
    public var colour: SceneColour
    public var texture: SceneTexture
    public var cx: Double, cy: Double, r: Double
    public init(shape: SceneShape, colour: SceneColour, texture: SceneTexture, cx: Double, cy: Double, r: Double) {
        self.shape = shape; self.colour = colour; self.texture = texture; self.cx = cx; self.cy = cy; self.r = r
    }

    /// Outline vertices of a polygon shape (nil for the circle).
    public var vertices: [(Double, Double)]? {
        func ring(_ n: Int, _ start: Double, _ radius: (Int) -> Double) -> [(Double, Double)] {
            (0..<n).map { i in
                let a = start + 2 * Double.pi * Double(i) / Double(n)
                return (cx + radius(i) * cos(a), cy + radius(i) * sin(a))
            }
        }
        switch shape {
        case .circle: return nil
        case .square: let s = r * 0.85; return [(cx - s, cy - s), (cx + s, cy - s), (cx + s, cy + s), (cx - s, cy + s)]
        case .triangle: return ring(3, -Double.pi / 2) { _ in r }
        case .star: return ring(10, -Double.pi / 2) { $0 % 2 == 0 ? r : r * 0.45 }
        case .hexagon: return ring(6, 0) { _ in r }
        case .diamond: return [(cx, cy - r), (cx + 0.7 * r, cy), (cx, cy + r), (cx - 0.7 * r, cy)]
        }
    }

    /// Exact extent [x0, y0, x1, y1] in pixels.
    public var box: [Double] {
        guard let v = vertices else { return [cx - r, cy - r, cx + r, cy + r] }
        return [v.map(\.0).min()!, v.map(\.1).min()!, v.map(\.0).max()!, v.map(\.1).max()!]
    }

    /// The x intervals where the horizontal line at `y` is inside the shape (even-odd rule).
    func spans(_ y: Double) -> [(Double, Double)] {
        guard let v = vertices else {
            let d = r * r - (y - cy) * (y - cy)
            if d < 0 { return [] }
            let h = d.squareRoot(); return [(cx - h, cx + h)]
        }
        var xs = [Double]()
        for i in 0..<v.count {
            let (x0, y0) = v[i], (x1, y1) = v[(i + 1) % v.count]
            if (y0 <= y && y < y1) || (y1 <= y && y < y0) { xs.append(x0 + (y - y0) * (x1 - x0) / (y1 - y0)) }
        }
        xs.sort()
        var out = [(Double, Double)]()
        var i = 0
        while i + 1 < xs.count { out.append((xs[i], xs[i + 1])); i += 2 }
        return out
    }
}

/// Draws scenes: an RGB float canvas, objects anti-aliased by 4×4 supersampling (per sample
/// row, the covered sample columns are found from the shape's spans, so cost grows with area,
/// not with area × edges).
public struct SceneCanvas {
    public let width: Int, height: Int
    public var pixels: [Float]  // height × width × 3, 0...255
    public static let samples = 4

    public init(width: Int, height: Int, background: SceneBackground, rng: inout TrainingRNG) {
        self.width = width; self.height = height
        pixels = [Float](repeating: 255, count: width * height * 3)
        switch background {
        case .white: break
        case .gray: for i in pixels.indices { pixels[i] = 222 }
        case .gradient:
            let vertical = rng.next() & 1 == 0
            let (a, b) = (Float(245 + Int(rng.next() % 10)), Float(195 + Int(rng.next() % 20)))
            for y in 0..<height { for x in 0..<width {
                let t = Float(vertical ? y : x) / Float(max(1, (vertical ? height : width) - 1))
                let v = a + (b - a) * t
                for c in 0..<3 { pixels[(y * width + x) * 3 + c] = v }
            } }
        case .noisy:
            for p in 0..<(width * height) {
                let v = 232 + (rng.nextUnitFloat() - 0.5) * 28
                for c in 0..<3 { pixels[p * 3 + c] = v }
            }
        }
    }

    /// Colour of `object` at sample point (x, y): solid, diagonal stripes of the colour and a
    /// light tint, or light dots on the colour.
    @inline(__always) static func paint(_ o: SceneObject, _ x: Double, _ y: Double) -> (Float, Float, Float) {
        let c = o.colour.rgb
        func tint(_ k: Float) -> (Float, Float, Float) { (c.0 + (255 - c.0) * k, c.1 + (255 - c.1) * k, c.2 + (255 - c.2) * k) }
        switch o.texture {
        case .solid: return c
        case .striped:
            let t = (x + y) / 9
            return t - t.rounded(.down) < 0.5 ? c : tint(0.6)
        case .dotted:
            let gx = x / 8 - (x / 8).rounded(.down) - 0.5, gy = y / 8 - (y / 8).rounded(.down) - 0.5
            return gx * gx + gy * gy < 0.045 ? tint(0.75) : c
        }
    }

    /// Draws one object over what is there (coverage-weighted).
    public mutating func draw(_ o: SceneObject) {
        let b = o.box
        let n = SceneCanvas.samples
        let px0 = max(0, Int(b[0].rounded(.down))), px1 = min(width, Int(b[2].rounded(.up)) + 1)
        let py0 = max(0, Int(b[1].rounded(.down))), py1 = min(height, Int(b[3].rounded(.up)) + 1)
        guard px1 > px0, py1 > py0 else { return }
        let w = px1 - px0
        var count = [Float](repeating: 0, count: w)
        var sum = [Float](repeating: 0, count: w * 3)
        let inv = 1 / Double(n)
        for py in py0..<py1 {
            for i in 0..<w { count[i] = 0; sum[3 * i] = 0; sum[3 * i + 1] = 0; sum[3 * i + 2] = 0 }
            for j in 0..<n {
                let y = Double(py) + (Double(j) + 0.5) * inv
                for (xa, xb) in o.spans(y) {
                    // sample columns k (x = (k + 0.5) / n) with xa <= x < xb
                    let k0 = max(px0 * n, Int((xa * Double(n) - 0.5).rounded(.up)))
                    let k1 = min(px1 * n, Int((xb * Double(n) - 0.5).rounded(.up)))
                    if k1 <= k0 { continue }
                    for k in k0..<k1 {
                        let p = k / n - px0
                        let col = SceneCanvas.paint(o, (Double(k) + 0.5) * inv, y)
                        count[p] += 1; sum[3 * p] += col.0; sum[3 * p + 1] += col.1; sum[3 * p + 2] += col.2
                    }
                }
            }
            let total = Float(n * n)
            for i in 0..<w where count[i] > 0 {
                let a = count[i] / total
                let q = (py * width + px0 + i) * 3
                for c in 0..<3 { pixels[q + c] = pixels[q + c] * (1 - a) + sum[3 * i + c] / total }
            }
        }
    }

    /// 8-bit RGB, rounded.
    public var rgb8: [UInt8] { pixels.map { UInt8(max(0, min(255, $0.rounded()))) } }
}
