import Foundation
import KestrelImage
import KestrelTestSupport
import XCTest

final class PreprocessConfigTests: XCTestCase {
    func testLoadsBothLayouts() throws {
        let hf = try PreprocessConfig.load(modelDirectory: fixture("hf_model"))
        XCTAssertEqual(hf, .huggingFace(size: 64))
        XCTAssertEqual(hf.ecosystem, .huggingFace)
        XCTAssertEqual(hf.alpha, .compositeOnWhite)
        let oc = try PreprocessConfig.load(modelDirectory: fixture("oc_model"))
        XCTAssertEqual(oc, .openCLIP(size: 64))
        XCTAssertEqual(oc.alpha, .drop)
        XCTAssertEqual(oc.mean, PreprocessConfig.openAIMean)
    }

    func testHuggingFaceVariantsAndDefaults() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-image")
        defer { try? FileManager.default.removeItem(at: dir) }
        try #"{"vision_config": {"image_size": 96}}"#.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try PreprocessConfig.load(modelDirectory: dir), .huggingFace(size: 96))
        try #"{"size": 50, "crop_size": 40, "resample": 2, "do_normalize": false, "image_mean": 0.5}"#
            .write(to: dir.appendingPathComponent("preprocessor_config.json"), atomically: true, encoding: .utf8)
        let c = try PreprocessConfig.load(modelDirectory: dir)
        XCTAssertEqual(c.resize, .shortestEdge(50))
        XCTAssertEqual(c.crop?.height, 40)
        XCTAssertEqual(c.filter, .bilinear)
        XCTAssertNil(c.mean)
        try #"{"resample": 1}"#.write(to: dir.appendingPathComponent("preprocessor_config.json"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try PreprocessConfig.load(modelDirectory: dir)) {
            guard case .badConfig? = $0 as? ImageError else { return XCTFail("\($0)") }
        }
        let empty = Fixtures.temporaryDirectory("kestrel-image")
        defer { try? FileManager.default.removeItem(at: empty) }
        XCTAssertThrowsError(try PreprocessConfig.load(modelDirectory: empty))
    }

    func testOpenCLIPSizeFallsBackToVisionConfig() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-image")
        defer { try? FileManager.default.removeItem(at: dir) }
        try #"{"model_cfg": {"vision_cfg": {"image_size": 48}}, "preprocess_cfg": {"resize_mode": "squash"}}"#
            .write(to: dir.appendingPathComponent("open_clip_config.json"), atomically: true, encoding: .utf8)
        let c = try PreprocessConfig.load(modelDirectory: dir)
        XCTAssertEqual(c.resize, .exact(height: 48, width: 48))
        XCTAssertEqual(c.crop?.width, 48)
        try #"{"preprocess_cfg": {"resize_mode": "longest"}}"#
            .write(to: dir.appendingPathComponent("open_clip_config.json"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try PreprocessConfig.load(modelDirectory: dir))
    }

    func testAlphaOverride() throws {
        let image = try ImageDecoder().decode(contentsOf: fixture("png_rgba.png"))
        var drop = PreprocessConfig.huggingFace(size: 64)
        drop.alpha = .drop
        let white = try Preprocessor(config: .huggingFace(size: 64)).pixelsRGB(image)
        let dropped = try Preprocessor(config: drop).pixelsRGB(image)
        // The top rows are fully transparent: white when composited, the hidden colour when dropped.
        XCTAssertEqual(Array(white.pixels.prefix(30)), [UInt8](repeating: 255, count: 30))
        XCTAssertNotEqual(Array(dropped.pixels.prefix(30)), [UInt8](repeating: 255, count: 30))
        var composite = PreprocessConfig.openCLIP(size: 64)
        composite.alpha = .compositeOnWhite
        let oc = try Preprocessor(config: composite).pixelsRGB(image)
        XCTAssertEqual(Array(oc.pixels.prefix(30)), [UInt8](repeating: 255, count: 30))
        // An opaque image is unaffected by the override.
        let rgb = try ImageDecoder().decode(contentsOf: fixture("png_rgb.png"))
        XCTAssertEqual(try Preprocessor(config: drop)(rgb), try Preprocessor(config: .huggingFace(size: 64))(rgb))
    }
}
