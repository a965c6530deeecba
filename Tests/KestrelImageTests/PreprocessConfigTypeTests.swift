import Foundation
import KestrelImage
import KestrelTestSupport
import XCTest

/// Issue 6 kinds 3 and 7 for preprocessing configs: a field of the wrong JSON type is an error
/// naming it (never ignored), messages say in words what was expected (no Swift collection
/// descriptions), a std so small that normalised pixels overflow is refused at load.
extension HostilePreprocessConfigTests {
    func testKind7_OpenCLIPInterpolationAndResizeModeMustBeStrings() throws {
        for (key, value) in [("interpolation", "3"), ("interpolation", #"["bicubic"]"#), ("interpolation", "null"),
                             ("resize_mode", "1"), ("resize_mode", #"["squash"]"#), ("resize_mode", "null")] {
            let message = try loadError(["open_clip_config.json": #"{"preprocess_cfg": {"\#(key)": \#(value)}}"#])
            XCTAssertTrue(message.contains("open_clip_config.json") && message.contains("preprocess_cfg.\(key)"), "\(key)=\(value): \(message)")
        }
        XCTAssertEqual(try loadError(["open_clip_config.json": #"{"preprocess_cfg": {"interpolation": "bilinear", "resize_mode": "squash"}}"#]), "loaded")
    }

    func testKind7_SizeMessagesSayWhatWasExpectedInWords() throws {
        let size = try loadError(["config.json": "{}", "preprocessor_config.json": #"{"size": {}}"#])
        XCTAssertTrue(size.contains("size must be a number, or have shortest_edge, or height and width"), size)
        XCTAssertFalse(size.contains("[:]"), size)
        let crop = try loadError(["config.json": "{}", "preprocessor_config.json": #"{"crop_size": {"width": 32}}"#])
        XCTAssertTrue(crop.contains("crop_size must be a number, or have height and width"), crop)
        XCTAssertTrue(crop.contains(#"{"width":32}"#), crop)
        XCTAssertFalse(crop.contains(#"["width": 32]"#), crop)
        let flag = try loadError(["config.json": "{}", "preprocessor_config.json": #"{"do_resize": "no"}"#])
        XCTAssertTrue(flag.contains("do_resize"), flag)
        let resample = try loadError(["config.json": "{}", "preprocessor_config.json": #"{"resample": "3"}"#])
        XCTAssertTrue(resample.contains("resample"), resample)
        let boolSize = try loadError(["config.json": "{}", "preprocessor_config.json": #"{"size": true}"#])
        XCTAssertTrue(boolSize.contains("size"), boolSize)
    }

    func testKind7_StdSoSmallThatPixelsOverflowIsRefusedAtLoad() throws {
        let hf = try loadError(["config.json": "{}", "preprocessor_config.json": #"{"image_std": [1e-45, 1e-45, 1e-45]}"#])
        XCTAssertTrue(hf.contains("preprocessor_config.json") && hf.contains("image_std") && hf.contains("1e-06"), hf)
        let oc = try loadError(["open_clip_config.json": #"{"preprocess_cfg": {"std": 1e-30}}"#])
        XCTAssertTrue(oc.contains("open_clip_config.json") && oc.contains("preprocess_cfg.std"), oc)
        XCTAssertEqual(try loadError(["config.json": "{}", "preprocessor_config.json": #"{"image_std": [0.001, 0.26, 0.27]}"#]), "loaded")
    }

    func testKind7_InvalidJSONSaysWhichFile() throws {
        let message = try loadError(["config.json": "{}", "preprocessor_config.json": "{\n\"size\": 224,, }"])
        XCTAssertTrue(message.contains("preprocessor_config.json") && message.contains("invalid JSON"), message)
        // Foundation on Linux says "around character 14" here: the second comma, line 2, column 13.
        if message.contains("around character") { XCTAssertTrue(message.contains("line 2, column 13"), message) }
        XCTAssertFalse(message.contains("The data is not in the correct format"), message)
    }
}
