import XCTest
@testable import KestrelImage

final class PNGEncoderTests: XCTestCase {
    /// Every channel count round-trips through our own decoder pixel for pixel.
    func testRoundTripThroughDecoder() throws {
        for channels in [1, 3, 4] {
            let (w, h) = (7, 5)
            let pixels = (0..<(w * h * channels)).map { UInt8(($0 * 37 + channels) % 256) }
            let png = try PNGEncoder.encode(pixels: pixels, width: w, height: h, channels: channels)
            XCTAssertEqual(Array(png.prefix(8)), [137, 80, 78, 71, 13, 10, 26, 10])
            let (dw, dh) = try PNGCodec.header(png, name: "t.png")
            XCTAssertEqual(dw, w); XCTAssertEqual(dh, h)
            let decoded = try ImageDecoder().decode(bytes: png, name: "t.png")
            XCTAssertEqual(decoded.width, w)
            XCTAssertEqual(decoded.mode.channels, channels)
            XCTAssertEqual(decoded.pixels, pixels)
        }
    }
}
