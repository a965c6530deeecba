import Foundation
import KestrelImage
import KestrelTestSupport
import XCTest

/// Issue 6, kind 2 (resize sizes >= 1), kind 7 (numbers that are not numbers) and kind 3 (no
/// allocation sized by untrusted numbers) for preprocessing configs.
final class HostilePreprocessConfigTests: XCTestCase {
    func folder(_ files: [String: String]) throws -> URL {
        let dir = Fixtures.temporaryDirectory("kestrel-image")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        for (name, text) in files { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return dir
    }

    func loadError(_ files: [String: String]) throws -> String {
        do { _ = try PreprocessConfig.load(modelDirectory: try folder(files)); return "loaded" } catch { return "\(error)" }
    }

    func testKind2_ResizeAndCropSizesMustBeAtLeastOneAndSane() throws {
        let cases: [(String, String)] = [
            (#"{"size": {"shortest_edge": -32}}"#, "size.shortest_edge"),
            (#"{"size": {"shortest_edge": 0}}"#, "size.shortest_edge"),
            (#"{"size": -5}"#, "size"),
            (#"{"size": {"height": 0, "width": 224}}"#, "size.height"),
            (#"{"size": {"height": 224, "width": 100000000}}"#, "size.width"),
            (#"{"crop_size": {"height": -1, "width": 224}}"#, "crop_size.height"),
            (#"{"crop_size": 1000000000000}"#, "crop_size"),
        ]
        for (json, field) in cases {
            let message = try loadError(["config.json": "{}", "preprocessor_config.json": json])
            XCTAssertTrue(message.contains("preprocessor_config.json") && message.contains(field), "\(json): \(message)")
        }
        for (json, field) in [(#"{"preprocess_cfg": {"size": -32}}"#, "preprocess_cfg.size"),
                              (#"{"model_cfg": {"vision_cfg": {"image_size": 0}}}"#, "vision_cfg.image_size"),
                              (#"{"preprocess_cfg": {"size": [99999999, 99999999]}}"#, "preprocess_cfg.size")] {
            let message = try loadError(["open_clip_config.json": json])
            XCTAssertTrue(message.contains("open_clip_config.json") && message.contains(field), "\(json): \(message)")
        }
    }

    func testKind7_MeanStdAndRescaleMustBeFiniteAndInRange() throws {
        for (json, field) in [(#"{"image_std": 0}"#, "image_std"), (#"{"image_std": [0.2, 0, 0.3]}"#, "image_std"),
                              (#"{"image_std": [0.2, -0.1, 0.3]}"#, "image_std"), (#"{"image_mean": 1e300}"#, "image_mean"),
                              (#"{"rescale_factor": 0}"#, "rescale_factor"), (#"{"rescale_factor": 1e300}"#, "rescale_factor")] {
            let message = try loadError(["config.json": "{}", "preprocessor_config.json": json])
            XCTAssertTrue(message.contains("preprocessor_config.json") && message.contains(field), "\(json): \(message)")
        }
        let message = try loadError(["open_clip_config.json": #"{"preprocess_cfg": {"std": [0.2, 0.0, 0.3]}}"#])
        XCTAssertTrue(message.contains("open_clip_config.json") && message.contains("std"), message)
    }

    func testKind3_AResizeLargerThanThePixelLimitIsRefusedBeforeAllocating() throws {
        // A 1 x 4000 strip resized to a shortest edge of 224 would be 224 x 896,000 pixels.
        let strip = DecodedImage(width: 1, height: 4000, mode: .gray, pixels: [UInt8](repeating: 128, count: 4000))
        let pre = Preprocessor(config: .openCLIP(size: 224), decoder: ImageDecoder(pixelLimit: 10_000_000))
        XCTAssertThrowsError(try pre(strip)) { XCTAssertTrue("\($0)".contains("224x896000"), "\($0)") }
        let photo = DecodedImage(width: 40, height: 30, mode: .gray, pixels: [UInt8](repeating: 128, count: 1200))
        XCTAssertNoThrow(try pre(photo))
    }
}
