import XCTest
import KestrelImage
@testable import KestrelGrounding

/// The heat-map overlay: a PNG of the picture's size, the colour map blended where the map is
/// high and low, boxes outlined.
final class HeatMapImageTests: XCTestCase {
    func testOverlayIsAPNGOfThePictureWithTheMapAndBoxes() throws {
        let (w, h) = (64, 48)
        let picture = DecodedImage(width: w, height: h, mode: .rgb, pixels: [UInt8](repeating: 128, count: w * h * 3))
        // 2 x 2 map: top-left high, the rest low.
        let map = HeatMap(gridWidth: 2, gridHeight: 2, values: [1, 0, 0, 0], region: PixelBox(x0: 0, y0: 0, x1: 64, y1: 48))
        let box = PixelBox(x0: 40, y0: 30, x1: 60, y1: 44)
        let png = try HeatMapImage.overlayPNG(picture, heatmap: map, boxes: [box])
        let decoded = try ImageDecoder().decode(bytes: png, name: "overlay.png")
        XCTAssertEqual(decoded.width, w)
        XCTAssertEqual(decoded.height, h)
        func pixel(_ x: Int, _ y: Int) -> [Int] { (0..<3).map { Int(decoded.pixels[(y * w + x) * decoded.mode.channels + $0]) } }
        // Near the high cell: viridis yellow blended at 0.7 over grey: red and green well above blue.
        let hot = pixel(2, 2)
        XCTAssertGreaterThan(hot[0], 180); XCTAssertGreaterThan(hot[1], 180); XCTAssertLessThan(hot[2], 100)
        // Far from it: viridis dark purple at 0.25 over grey: blue above green.
        let cold = pixel(63, 0)
        XCTAssertGreaterThan(cold[2], cold[1])
        XCTAssertLessThan(cold[0], 128)
        // The box edge is white, just inside it is black-edged, the inside keeps the blend.
        XCTAssertEqual(pixel(50, 30), [255, 255, 255])
        XCTAssertEqual(pixel(40, 36), [255, 255, 255])
        XCTAssertEqual(pixel(42, 36), [0, 0, 0])
        XCTAssertNotEqual(pixel(50, 37), [255, 255, 255])
    }

    func testColourMapEndsAndMonotoneBrightness() {
        XCTAssertEqual(HeatMapImage.colourMap(0), [68, 1, 84])
        XCTAssertEqual(HeatMapImage.colourMap(1), [253, 231, 37])
        XCTAssertEqual(HeatMapImage.colourMap(-3), HeatMapImage.colourMap(0))
        var last: Float = -1
        for i in 0...20 {
            let c = HeatMapImage.colourMap(Float(i) / 20)
            let luma = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
            XCTAssertGreaterThan(luma, last)
            last = luma
        }
    }

    /// A map whose values are all equal or not finite still draws (no division by zero).
    func testFlatAndNonFiniteMapsDraw() throws {
        let picture = DecodedImage(width: 8, height: 8, mode: .gray, pixels: [UInt8](repeating: 10, count: 64))
        for values: [Float] in [[0.2, 0.2, 0.2, 0.2], [.nan, .infinity, 0, 1]] {
            let map = HeatMap(gridWidth: 2, gridHeight: 2, values: values, region: PixelBox(x0: 0, y0: 0, x1: 8, y1: 8))
            let (px, w, h) = try HeatMapImage.overlayRGB(picture, heatmap: map, boxes: [])
            XCTAssertEqual(px.count, w * h * 3)
            XCTAssertEqual(w, 8)
        }
    }
}
