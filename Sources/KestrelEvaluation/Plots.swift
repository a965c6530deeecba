// The harness's plots as PNG bytes (KestrelImage's PNGEncoder): the confusion matrix as a
// row-normalised heat map, and the reliability diagram (accuracy per confidence bin against the
// diagonal). Drawn on a plain RGB canvas with the built-in bitmap font.
import Foundation
import KestrelImage

/// An 8-bit RGB colour.
public struct RGB: Sendable, Equatable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    public static let white = RGB(255, 255, 255), black = RGB(0, 0, 0), gray = RGB(150, 150, 150)
    public static let lightGray = RGB(225, 225, 225), blue = RGB(49, 104, 176), red = RGB(200, 60, 50)
}

/// An RGB image in memory, [height, width, 3] row-major, top row first.
public struct Canvas: Sendable {
    public let width: Int, height: Int
    public private(set) var pixels: [UInt8]

    public init(width: Int, height: Int, background: RGB = .white) {
        self.width = width; self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        fill(x: 0, y: 0, width: width, height: height, color: background)
    }

    public func pixel(x: Int, y: Int) -> RGB {
        let o = (y * width + x) * 3
        return RGB(pixels[o], pixels[o + 1], pixels[o + 2])
    }

    /// Fills a rectangle, clipped to the canvas.
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, color: RGB) {
        let x0 = max(0, x), y0 = max(0, y), x1 = min(width, x + w), y1 = min(height, y + h)
        guard x0 < x1, y0 < y1 else { return }
        for row in y0..<y1 {
            var o = (row * width + x0) * 3
            for _ in x0..<x1 { pixels[o] = color.r; pixels[o + 1] = color.g; pixels[o + 2] = color.b; o += 3 }
        }
    }

    /// A one-pixel line from (x0, y0) to (x1, y1) (Bresenham), clipped to the canvas first
    /// (Liang-Barsky), so far-away end points cost no more than the pixels drawn.
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, color: RGB) {
        guard width > 0, height > 0,
              let (x0, y0, x1, y1) = Canvas.clip(x0, y0, x1, y1, maxX: width - 1, maxY: height - 1) else { return }
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        while true {
            fill(x: x, y: y, width: 1, height: 1, color: color)
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    /// The part of the segment inside [0, maxX] x [0, maxY], end points rounded to pixels; nil when
    /// it misses the box.
    static func clip(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, maxX: Int, maxY: Int) -> (Int, Int, Int, Int)? {
        let ax = Double(x0), ay = Double(y0), dx = Double(x1) - ax, dy = Double(y1) - ay
        var t0 = 0.0, t1 = 1.0
        for (p, q) in [(-dx, ax), (dx, Double(maxX) - ax), (-dy, ay), (dy, Double(maxY) - ay)] {
            if p == 0 {
                if q < 0 { return nil }
            } else {
                let r = q / p
                if p < 0 { t0 = max(t0, r) } else { t1 = min(t1, r) }
                if t0 > t1 { return nil }
            }
        }
        func px(_ v: Double, _ hi: Int) -> Int { Int(min(Double(hi), max(0, v.rounded()))) }
        return (px(ax + t0 * dx, maxX), px(ay + t0 * dy, maxY), px(ax + t1 * dx, maxX), px(ay + t1 * dy, maxY))
    }

    /// The outline of a rectangle.
    public mutating func frame(x: Int, y: Int, width w: Int, height h: Int, color: RGB) {
        fill(x: x, y: y, width: w, height: 1, color: color); fill(x: x, y: y + h - 1, width: w, height: 1, color: color)
        fill(x: x, y: y, width: 1, height: h, color: color); fill(x: x + w - 1, y: y, width: 1, height: h, color: color)
    }

    /// The canvas as PNG bytes (8-bit RGB).
    public func png(name: String = "plot") throws -> [UInt8] {
        try PNGEncoder.encode(pixels: pixels, width: width, height: height, channels: 3, name: name)
    }
}

public enum Plots {
    /// The heat map's colour of a share in [0, 1]: white at 0 to dark blue at 1 (NaN: light gray).
    public static func heat(_ v: Double) -> RGB {
        guard v.isFinite else { return .lightGray }
        let t = min(1, max(0, v))
        func mix(_ a: Double, _ b: Double) -> UInt8 { UInt8((a + (b - a) * t).rounded()) }
        return RGB(mix(255, 8), mix(255, 48), mix(255, 107))
    }

    /// Class names as the plots print them: "i NAME", at most 24 characters.
    static func rowLabel(_ i: Int, _ name: String) -> String {
        let text = "\(i) \(name)"
        return text.count > 24 ? String(text.prefix(23)) + "." : text
    }

    /// The confusion matrix `counts` [C][C] (rows true, columns predicted) as a heat map, each
    /// row divided by its sum. Rows are labelled "i name" on the left, columns "i" on top; with
    /// cells of at least 24 pixels each cell shows its row share in percent.
    public static func confusionMatrix(counts: [[Int]], labels: [String]) -> Canvas {
        let c = counts.count
        let cell = c <= 30 ? 28 : max(3, 840 / max(c, 1))
        let labelWidth = labels.enumerated().map { BitmapFont.width(of: rowLabel($0, $1)) }.max() ?? 0
        let left = 16 + max(labelWidth, BitmapFont.width(of: "TRUE")) + 8, top = 52
        let title = "CONFUSION MATRIX, ROW SHARES IN %"
        let width = max(left + c * cell + 16, BitmapFont.width(of: title) + 16), height = top + c * cell + 16
        var canvas = Canvas(width: width, height: height)
        BitmapFont.draw(title, on: &canvas, x: 8, y: 6, color: .black)
        BitmapFont.draw("PREDICTED", on: &canvas, x: left, y: top - 28, color: .black)
        BitmapFont.draw("TRUE", on: &canvas, x: 16, y: top - 12, color: .black)
        for i in 0..<c {
            let sum = counts[i].reduce(0, +)
            let y = top + i * cell
            BitmapFont.draw(rowLabel(i, i < labels.count ? labels[i] : ""), on: &canvas, x: 16, y: y + (cell - 7) / 2, color: .black)
            for j in 0..<c {
                let share = sum == 0 ? Double.nan : Double(counts[i][j]) / Double(sum)
                let x = left + j * cell
                canvas.fill(x: x, y: y, width: cell, height: cell, color: heat(share))
                if cell >= 24, share.isFinite, counts[i][j] > 0 {
                    let text = "\(Int((share * 100).rounded()))"
                    BitmapFont.draw(text, on: &canvas, x: x + (cell - BitmapFont.width(of: text)) / 2, y: y + (cell - 7) / 2,
                                    color: share > 0.5 ? .white : .black)
                }
            }
        }
        if cell >= 12 || c <= 60 {
            for j in 0..<c where cell >= 12 || j % 5 == 0 {
                let text = "\(j)"
                BitmapFont.draw(text, on: &canvas, x: left + j * cell + (cell - BitmapFont.width(of: text)) / 2, y: top - 12, color: .black)
            }
        }
        canvas.frame(x: left - 1, y: top - 1, width: c * cell + 2, height: c * cell + 2, color: .gray)
        return canvas
    }

    /// The reliability diagram: one bar per bin (from its lower to its upper confidence) as high
    /// as the accuracy of its images, the diagonal (perfect calibration) in red, and the ECE in
    /// the title. Empty bins have no bar.
    public static func reliabilityDiagram(bins: [CalibrationBin], ece: Double) -> Canvas {
        let size = 360, left = 60, top = 40
        var canvas = Canvas(width: left + size + 30, height: top + size + 50)
        BitmapFont.draw("RELIABILITY DIAGRAM  ECE " + (ece.isFinite ? String(format: "%.4f", ece) : "N/A"),
                        on: &canvas, x: 8, y: 8, color: .black)
        func px(_ v: Double) -> Int { Int((v * Double(size)).rounded()) }
        for b in bins where b.count > 0 && b.accuracy.isFinite {
            let x0 = left + px(b.lower), x1 = left + px(b.upper), h = px(b.accuracy)
            canvas.fill(x: x0, y: top + size - h, width: max(1, x1 - x0), height: h, color: .blue)
            canvas.frame(x: x0, y: top + size - h, width: max(1, x1 - x0), height: max(1, h), color: .white)
        }
        canvas.frame(x: left, y: top, width: size + 1, height: size + 1, color: .black)
        canvas.line(left, top + size, left + size, top, color: .red)
        for t in [0.0, 0.5, 1.0] {
            let label = t == 0.5 ? "0.5" : "\(Int(t))"
            canvas.fill(x: left + px(t), y: top + size, width: 1, height: 5, color: .black)
            BitmapFont.draw(label, on: &canvas, x: left + px(t) - BitmapFont.width(of: label) / 2, y: top + size + 8, color: .black)
            canvas.fill(x: left - 5, y: top + size - px(t), width: 5, height: 1, color: .black)
            BitmapFont.draw(label, on: &canvas, x: left - 10 - BitmapFont.width(of: label), y: top + size - px(t) - 3, color: .black)
        }
        BitmapFont.draw("CONFIDENCE", on: &canvas, x: left + size / 2 - BitmapFont.width(of: "CONFIDENCE") / 2, y: top + size + 26, color: .black)
        BitmapFont.draw("ACCURACY", on: &canvas, x: 4, y: top - 14, color: .black)
        return canvas
    }
}
