// Issue 7, item 4: JPEG DCT-domain scaling (`JPEGDecoding.fast`). Small generated JPEGs; the
// model sizes are scaled down with them (32 and 64 instead of 224) so that debug builds stay quick.
import Foundation
import KestrelImage
import XCTest

final class JPEGReductionTests: XCTestCase {
    /// A photo-like picture: gradients, a hard-edged rectangle, a disc, texture and noise.
    static func picture(width w: Int, height h: Int, seed: UInt64 = 1) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    var v = Double(x) / Double(w) * 120 + Double(y) / Double(h) * 60 + Double(c) * 30
                    v += 25 * sin(Double(x) / 7 + Double(c)) * cos(Double(y) / 11)  // texture
                    if x > w / 5 && x < w / 2 && y > h / 4 && y < 3 * h / 4 { v = 220 - Double(c) * 70 }  // an edge
                    let dx = Double(x - 3 * w / 4), dy = Double(y - h / 2)
                    if dx * dx + dy * dy < Double(h * h) / 25 { v = 30 + Double(c) * 50 }  // a disc
                    v += Double(Int((state >> 33) % 9) - 4)  // noise
                    out[(y * w + x) * 3 + c] = UInt8(max(0, min(255, v.rounded())))
                }
            }
        }
        return out
    }

    static func jpeg(width: Int, height: Int, orientation: Int? = nil, seed: UInt64 = 1) throws -> [UInt8] {
        try JPEGWriter.encode(picture(width: width, height: height, seed: seed), width: width, height: height, channels: 3,
                              quality: 90, exifOrientation: orientation)
    }

    func preprocessor(_ config: PreprocessConfig, _ mode: JPEGDecoding, orientation: OrientationHandling = .exif) -> Preprocessor {
        Preprocessor(config: config, decoder: ImageDecoder(orientation: orientation, jpegDecoding: mode))
    }

    /// The scale chosen is the smallest n/8 whose picture covers twice the resize target on both
    /// sides (never below it), in the upright frame; full scale when no reduction can.
    func testScaleIsTheSmallestThatStillCoversTheResizeTarget() throws {
        let square = PreprocessConfig.openCLIP(size: 32)
        var wide = PreprocessConfig.huggingFace(size: 32)
        wide.resize = .exact(height: 24, width: 80)  // a non-square target: EXIF swaps matter
        wide.crop = nil
        let cases: [(w: Int, h: Int, orientation: Int?, config: PreprocessConfig)] = [
            (640, 480, nil, square), (480, 640, nil, square), (1001, 333, nil, square), (333, 1001, nil, square),
            (517, 389, 6, square), (389, 517, 8, square), (800, 200, nil, wide), (200, 800, 6, wide), (200, 800, 5, wide),
            (800, 200, 6, wide), (127, 95, nil, square), (64, 64, nil, square), (1600, 90, nil, square),
        ]
        for c in cases {
            let bytes = try Self.jpeg(width: c.w, height: c.h, orientation: c.orientation)
            let p = preprocessor(c.config, .fast)
            let image = try p.decode(bytes: bytes, name: "case")
            let swaps = (c.orientation ?? 1) >= 5
            let (uw, uh) = swaps ? (c.h, c.w) : (c.w, c.h)
            let need = p.minimumDecodeSize(width: uw, height: uh)
            let label = "\(c.w)x\(c.h) orientation \(c.orientation ?? 1)"
            guard let r = image.reduction else {
                // Full scale: even 7/8 would not cover twice the target.
                XCTAssertEqual(image.width, uw, label)
                XCTAssertEqual(image.height, uh, label)
                XCTAssertTrue(uw * 7 < 16 * need.width || uh * 7 < 16 * need.height, "\(label): a reduction was possible")
                continue
            }
            XCTAssertEqual(r.fullWidth, uw, label)
            XCTAssertEqual(r.fullHeight, uh, label)
            XCTAssertEqual(image.width, (uw * r.numerator + 7) / 8, label)
            XCTAssertEqual(image.height, (uh * r.numerator + 7) / 8, label)
            XCTAssertGreaterThanOrEqual(r.x1 - r.x0, 2 * Double(need.width), label)
            XCTAssertGreaterThanOrEqual(r.y1 - r.y0, 2 * Double(need.height), label)
            XCTAssertEqual(r.x1 - r.x0, Double(uw * r.numerator) / 8, label)
            XCTAssertEqual(r.y1 - r.y0, Double(uh * r.numerator) / 8, label)
            let smaller = r.numerator - 1
            XCTAssertTrue(smaller == 0 || uw * smaller < 16 * need.width || uh * smaller < 16 * need.height, "\(label): \(smaller)/8 would do")
            // The model input has the exact path's size.
            let exact = try preprocessor(c.config, .exact).pixelsRGB(try preprocessor(c.config, .exact).decode(bytes: bytes, name: "case"))
            let fast = try p.pixelsRGB(image)
            XCTAssertEqual(fast.width, exact.width, label)
            XCTAssertEqual(fast.height, exact.height, label)
        }
    }

    /// A margin of 1 never goes below the target itself.
    func testMarginOneNeverGoesBelowTheTarget() throws {
        for (w, h) in [(640, 480), (333, 1001), (257, 129), (1000, 1000)] {
            var d = ImageDecoder(jpegDecoding: .fast)
            d.reductionMargin = 1
            let p = Preprocessor(config: .openCLIP(size: 32), decoder: d)
            let image = try p.decode(bytes: try Self.jpeg(width: w, height: h), name: "x")
            let need = p.minimumDecodeSize(width: w, height: h)
            let r = try XCTUnwrap(image.reduction, "\(w)x\(h)")
            XCTAssertGreaterThanOrEqual(r.x1 - r.x0, Double(need.width))
            XCTAssertGreaterThanOrEqual(r.y1 - r.y0, Double(need.height))
        }
    }

    /// Reduced decode vs full decode, after the same preprocessing: the model input (uint8, just
    /// before rescaling) stays within a few levels. Measured: mean 0.2-0.5, max under 16 here.
    func testReducedDecodeStaysCloseToTheFullDecode() throws {
        for (w, h, orientation) in [(640, 480, nil), (480, 640, nil), (701, 457, 6 as Int?), (900, 300, 3)] {
            let bytes = try Self.jpeg(width: w, height: h, orientation: orientation, seed: UInt64(w))
            for config in [PreprocessConfig.openCLIP(size: 64), .huggingFace(size: 64)] {
                let e = preprocessor(config, .exact), f = preprocessor(config, .fast)
                let fastImage = try f.decode(bytes: bytes, name: "x")
                XCTAssertNotNil(fastImage.reduction, "\(w)x\(h) is reduced")
                let a = try e.pixelsRGB(try e.decode(bytes: bytes, name: "x")).pixels, b = try f.pixelsRGB(fastImage).pixels
                XCTAssertEqual(a.count, b.count)
                let diffs = zip(a, b).map { abs(Int($0) - Int($1)) }
                let mean = Double(diffs.reduce(0, +)) / Double(diffs.count)
                XCTAssertLessThan(mean, 1.5, "\(w)x\(h) \(config.ecosystem): mean |diff| \(mean)")
                XCTAssertLessThanOrEqual(diffs.max()!, 32, "\(w)x\(h) \(config.ecosystem)")
            }
        }
    }

    /// `.exact` is today's path, bit for bit: the sizing-aware decode gives the plain decode's
    /// image (no reduction) and the same model input; `.fast` on an image too small to reduce too.
    func testExactIsBitIdenticalToThePlainDecode() throws {
        let config = PreprocessConfig.openCLIP(size: 64)
        for (w, h, mode) in [(640, 480, JPEGDecoding.exact), (300, 200, .exact), (140, 100, .fast), (70, 400, .fast)] {
            let bytes = try Self.jpeg(width: w, height: h, orientation: 6)
            let p = preprocessor(config, mode)
            let plain = try ImageDecoder().decode(bytes: bytes, name: "x")
            let sized = try p.decode(bytes: bytes, name: "x")
            XCTAssertNil(sized.reduction)
            XCTAssertEqual(sized, plain, "\(w)x\(h) \(mode)")
            XCTAssertEqual(try p(sized), try Preprocessor(config: config)(plain))
        }
    }

    /// The pixel limit is checked on the header's full size before anything is decoded, reduced or not.
    func testPixelLimitUsesTheFullSize() throws {
        let bytes = try Self.jpeg(width: 640, height: 480)
        let p = Preprocessor(config: .openCLIP(size: 32), decoder: ImageDecoder(pixelLimit: 640 * 480 - 1, jpegDecoding: .fast))
        XCTAssertThrowsError(try p.decode(bytes: bytes, name: "big.jpg")) { error in
            guard case ImageError.tooManyPixels(_, let w, let h, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual([w, h], [640, 480])
        }
    }

    /// A damaged file fails the same way on both paths.
    func testTruncatedFileFailsOnTheReducedPath() throws {
        let bytes = try Self.jpeg(width: 640, height: 480)
        let cut = Array(bytes.prefix(bytes.count * 2 / 3))
        XCTAssertThrowsError(try preprocessor(.openCLIP(size: 32), .fast).decode(bytes: cut, name: "cut.jpg")) { error in
            guard case ImageError.truncated = error else { return XCTFail("\(error)") }
        }
    }

    /// Gray, CMYK, progressive, 4:2:2 and EXIF-oriented files (every orientation: the picture's
    /// box follows the flips) reduce too, and stay close to their full decode.
    func testOtherJPEGLayoutsReduce() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Fixtures/images")
        for name in ["jpeg_gray.jpg", "jpeg_cmyk.jpg", "jpeg_progressive.jpg", "jpeg_small_422.jpg", "jpeg_large.jpg", "exif_jpeg_o1.jpg", "exif_jpeg_o2.jpg", "exif_jpeg_o3.jpg", "exif_jpeg_o4.jpg", "exif_jpeg_o5.jpg", "exif_jpeg_o6.jpg", "exif_jpeg_o7.jpg", "exif_jpeg_o8.jpg"] {
            let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent(name)))
            for config in [PreprocessConfig.openCLIP(size: 8), .huggingFace(size: 8)] {
                let e = preprocessor(config, .exact), f = preprocessor(config, .fast)
                let image = try f.decode(bytes: bytes, name: name)
                XCTAssertNotNil(image.reduction, name)
                let a = try e.pixelsRGB(try e.decode(bytes: bytes, name: name)).pixels, b = try f.pixelsRGB(image).pixels
                XCTAssertEqual(a.count, b.count, name)
                let diffs = zip(a, b).map { abs(Int($0) - Int($1)) }
                // Tiny fixtures with hard patterns at an 8-pixel target: measured 0.3-3.6 levels on average.
                XCTAssertLessThan(Double(diffs.reduce(0, +)) / Double(diffs.count), 5, name)
            }
        }
    }
}
