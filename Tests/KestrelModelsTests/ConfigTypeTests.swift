import Foundation
import KestrelModels
import KestrelTestSupport
import XCTest

/// Issue 6 kinds 3 and 7 (wrong answers given silently): a config field of the wrong JSON type is
/// an error that names it, never read as a default; an invalid JSON file says where.
extension HostileModelTests {
    func testKind7_ConfigFieldsOfTheWrongTypeAreRefusedByName() throws {
        let openCLIP: [(String, Any)] = [
            ("model_cfg.quick_gelu", "x"), ("model_cfg.quick_gelu", 1), ("model_cfg.quick_gelu", [true]),
            ("model_cfg.text_cfg.heads", true), ("model_cfg.vision_cfg.layers", true), ("model_cfg.text_cfg.layers", false),
        ]
        for (field, value) in openCLIP {
            let dir = try copyOfFixture("openclip-tiny")
            try setField(dir.appendingPathComponent("open_clip_config.json"), field, value)
            let shown = field.replacingOccurrences(of: "model_cfg.", with: "")
            assertRefused(dir, mentioning: ["open_clip_config.json", shown], "\(field) = \(value)")
        }
        let huggingFace: [(String, Any)] = [
            ("vision_config.num_channels", 2.5), ("vision_config.num_channels", "12"), ("vision_config.num_channels", [1]),
            ("vision_config.num_channels", 1), ("vision_config.num_attention_heads", true),
            ("text_config.num_hidden_layers", true), ("vision_config.num_hidden_layers", true),
        ]
        for (field, value) in huggingFace {
            let dir = try copyOfFixture("hf-tiny")
            try setField(dir.appendingPathComponent("config.json"), field, value)
            assertRefused(dir, mentioning: ["config.json", field], "\(field) = \(value)")
        }
        // Another architecture's config.json is refused by its model_type, not loaded as CLIP with defaults.
        for value: Any in ["siglip", "owlvit", 7] {
            let dir = try copyOfFixture("hf-tiny")
            try setField(dir.appendingPathComponent("config.json"), "model_type", value)
            assertRefused(dir, mentioning: ["config.json", "model_type", "\(value)"], "model_type = \(value)")
        }
        // The right types still load.
        for value in [true, false] {
            let dir = try copyOfFixture("openclip-tiny")
            try setField(dir.appendingPathComponent("open_clip_config.json"), "model_cfg.quick_gelu", value)
            XCTAssertNil(loadError(dir), "quick_gelu = \(value)")
        }
        let dir = try copyOfFixture("hf-tiny")
        try setField(dir.appendingPathComponent("config.json"), "vision_config.num_channels", 3)
        XCTAssertNil(loadError(dir))
    }

    func testKind7_InvalidJSONSaysWhichFileAndWhatFoundationFound() throws {
        let dir = try copyOfFixture("hf-tiny")
        try #"{"text_config": {"hidden_size": 32,}, "vision_config": tru}"#.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        guard let message = loadError(dir) else { return XCTFail("loaded") }
        XCTAssertTrue(message.contains("config.json") && message.contains("invalid JSON"), message)
        XCTAssertFalse(message.contains("The data is not in the correct format"), message)
        XCTAssertFalse(message.contains("The operation could not be completed"), message)
    }

    func testKind7_NonFiniteOutputNamesTheInputAndDoesNotTalkAboutStoring() throws {
        let message = "\(ModelError.nonFiniteOutput(what: "image embedding", row: 2))"
        XCTAssertFalse(message.contains("stored"), message)
        XCTAssertTrue(message.contains("not finite for input 2"), message)
        XCTAssertTrue(message.contains("image_std"), message)
    }
}
