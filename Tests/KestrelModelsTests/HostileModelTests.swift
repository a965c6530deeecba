import Foundation
import KestrelKernels
import KestrelModels
import KestrelTestSupport
import XCTest

/// Issue 6, kinds 3, 7 and 12 (model side): hostile model folders give an error naming the file
/// and the field or tensor, before anything is allocated from the numbers they hold.
final class HostileModelTests: XCTestCase {
    func copyOfFixture(_ name: String) throws -> URL {
        let dir = Fixtures.temporaryDirectory().appendingPathComponent(name)
        try FileManager.default.copyItem(at: Fixtures.url("models/\(name)"), to: dir)
        return dir
    }

    /// Sets `path` ("vision_config.num_hidden_layers") in a JSON config to `value`.
    func setField(_ url: URL, _ path: String, _ value: Any) throws {
        var root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        func set(_ d: inout [String: Any], _ keys: ArraySlice<Substring>) {
            let k = String(keys.first!)
            if keys.count == 1 { d[k] = value; return }
            var sub = d[k] as? [String: Any] ?? [:]
            set(&sub, keys.dropFirst())
            d[k] = sub
        }
        set(&root, path.split(separator: ".")[...])
        try JSONSerialization.data(withJSONObject: root).write(to: url)
    }

    func rewriteWeights(_ url: URL, _ edit: (inout [SafeTensorsWriter.Item]) -> Void) throws {
        let file = try SafeTensorsFile(url: url)
        var items = try file.names.map { SafeTensorsWriter.Item($0, shape: file.entries[$0]!.shape, values: try file.floats($0)) }
        edit(&items)
        try SafeTensorsWriter.write(items, to: url)
    }

    func loadError(_ dir: URL) -> String? {
        do { _ = try CLIPModel(directory: dir); return nil } catch { return "\(error)" }
    }

    func assertRefused(_ dir: URL, mentioning parts: [String], _ context: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let message = loadError(dir) else { return XCTFail("\(context): loaded", file: file, line: line) }
        for part in parts { XCTAssertTrue(message.contains(part), "\(context): \"\(message)\" should mention \(part)", file: file, line: line) }
    }

    // MARK: - Kind 3: sizes in the config are checked before they size anything

    func testKind3_AbsurdSizesInConfigJSONAreRefusedWithTheFieldNamed() throws {
        let fields = ["vision_config.num_hidden_layers", "text_config.num_hidden_layers", "vision_config.hidden_size",
                      "text_config.hidden_size", "vision_config.num_attention_heads", "vision_config.intermediate_size",
                      "text_config.intermediate_size", "vision_config.image_size", "vision_config.patch_size",
                      "text_config.max_position_embeddings", "text_config.vocab_size", "projection_dim"]
        for field in fields {
            for value in [1_000_000_000_000, -32] {
                let dir = try copyOfFixture("hf-tiny")
                try setField(dir.appendingPathComponent("config.json"), field, value)
                assertRefused(dir, mentioning: ["config.json", field, "\(value)"], "\(field) = \(value)")
            }
        }
    }

    func testKind3_AbsurdSizesInOpenCLIPConfigAreRefusedWithTheFieldNamed() throws {
        let fields: [(String, Any)] = [
            ("model_cfg.vision_cfg.layers", 1_000_000_000_000), ("model_cfg.text_cfg.layers", 1_000_000_000_000),
            ("model_cfg.vision_cfg.width", 1_000_000_000_000), ("model_cfg.vision_cfg.head_width", 1_000_000_000_000),
            ("model_cfg.vision_cfg.mlp_ratio", 1e300), ("model_cfg.text_cfg.mlp_ratio", -4.0),
            ("model_cfg.text_cfg.heads", 1_000_000_000_000), ("model_cfg.text_cfg.context_length", 1_000_000_000_000),
            ("model_cfg.text_cfg.vocab_size", 1_000_000_000_000), ("model_cfg.vision_cfg.image_size", 1_000_000_000_000),
            ("model_cfg.embed_dim", 1_000_000_000_000),
        ]
        for (field, value) in fields {
            let dir = try copyOfFixture("openclip-tiny")
            try setField(dir.appendingPathComponent("open_clip_config.json"), field, value)
            let shown = String(field.dropFirst("model_cfg.".count))
            assertRefused(dir, mentioning: ["open_clip_config.json", shown], "\(field) = \(value)")
        }
    }

    func testKind3_LayerCountIsCheckedAgainstTheCheckpoint() throws {
        let dir = try copyOfFixture("hf-tiny")
        try setField(dir.appendingPathComponent("config.json"), "vision_config.num_hidden_layers", 40)
        assertRefused(dir, mentioning: ["vision_config.num_hidden_layers", "40", "model.safetensors", "2 "], "40 layers")
    }

    func testKind3_SafetensorsHeaderSizesAreCheckedBeforeUse() throws {
        let dir = Fixtures.temporaryDirectory()
        func file(_ header: String, payload: Int) throws -> String {
            let url = dir.appendingPathComponent("h.safetensors")
            var data = Data()
            let json = Data(header.utf8)
            withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
            data.append(json)
            data.append(Data(count: payload))
            try data.write(to: url)
            do { _ = try SafeTensorsFile(url: url); return "loaded" } catch { return "\(error)" }
        }
        // A shape whose element count overflows 64 bits, and one far larger than the file.
        let huge = try file(#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}}"#, payload: 16)
        XCTAssertTrue(huge.contains("w") && huge.contains("shape"), huge)
        let negative = try file(#"{"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}"#, payload: 16)
        XCTAssertTrue(negative.contains("w") && negative.contains("shape"), negative)
        // A header length beyond the file.
        let url = dir.appendingPathComponent("len.safetensors")
        var data = Data()
        withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { data.append(contentsOf: $0) }
        data.append(Data("{}".utf8))
        try data.write(to: url)
        XCTAssertThrowsError(try SafeTensorsFile(url: url)) { XCTAssertTrue("\($0)".contains("header length"), "\($0)") }
    }

    // MARK: - Kind 7: numbers that are not numbers

    func testKind7_NonFiniteWeightsAreRefusedWithTheTensorNamed() throws {
        for (value, name) in [(Float.nan, "nan"), (Float.infinity, "inf"), (-Float.infinity, "-inf")] {
            for dtype in [SafeTensorsWriter.DType.f32, .f16, .bf16] {
                let dir = try copyOfFixture("hf-tiny")
                let key = "text_model.encoder.layers.1.mlp.fc1.weight"
                try rewriteWeights(dir.appendingPathComponent("model.safetensors")) { items in
                    items = items.map { .init($0.name, shape: $0.shape, values: $0.values, dtype: dtype) }
                    let i = items.firstIndex { $0.name == key }!
                    items[i].values[37] = value
                }
                assertRefused(dir, mentioning: ["model.safetensors", key, "not finite"], "\(name) \(dtype)")
            }
        }
        let dir = try copyOfFixture("openclip-tiny")
        try rewriteWeights(dir.appendingPathComponent("open_clip_model.safetensors")) { items in
            let i = items.firstIndex { $0.name == "logit_scale" }!
            items[i].values[0] = .nan
        }
        assertRefused(dir, mentioning: ["open_clip_model.safetensors", "logit_scale", "not finite"], "NaN logit_scale")
    }

    func testKind7_LogitScaleWhoseExponentOverflowsIsRefused() throws {
        let dir = try copyOfFixture("hf-tiny")
        try rewriteWeights(dir.appendingPathComponent("model.safetensors")) { items in
            let i = items.firstIndex { $0.name == "logit_scale" }!
            items[i].values[0] = 200  // exp(200) is infinite in float32
        }
        assertRefused(dir, mentioning: ["logit_scale", "200"], "logit_scale 200")
    }

    func testKind7_BadFloatFieldsAreRefusedWithTheFieldNamed() throws {
        for (field, value) in [("vision_config.layer_norm_eps", -1.0), ("text_config.layer_norm_eps", 0.0),
                               ("logit_scale_init_value", 1e300 * 10)] as [(String, Double)] {
            let dir = try copyOfFixture("hf-tiny")
            let url = dir.appendingPathComponent("config.json")
            if value.isInfinite {  // JSON has no infinity; a literal too large for a double reads as one
                let text = try String(contentsOf: url, encoding: .utf8)
                try text.replacingOccurrences(of: "\"logit_scale_init_value\": 2.6592", with: "\"logit_scale_init_value\": 1e999")
                    .write(to: url, atomically: true, encoding: .utf8)
            } else {
                try setField(url, field, value)
            }
            assertRefused(dir, mentioning: ["config.json", field], "\(field) = \(value)")
        }
    }

    func testKind7_EmbeddingsThatOverflowAreAnErrorNotNaN() throws {
        // Finite weights whose product overflows float32: the tower's output is checked.
        let dir = try copyOfFixture("hf-tiny")
        try rewriteWeights(dir.appendingPathComponent("model.safetensors")) { items in
            let i = items.firstIndex { $0.name == "visual_projection.weight" }!
            items[i].values = items[i].values.map { _ in 3e38 }
        }
        let model = try CLIPModel(directory: dir)
        let s = model.config.imageSize
        XCTAssertThrowsError(try model.encodeImages(Tensor(shape: [1, 3, s, s], data: [Float](repeating: 0.5, count: 3 * s * s)))) {
            XCTAssertTrue("\($0)".contains("not finite"), "\($0)")
        }
    }

    func testKind7_OverlappingOrBackwardTensorRangesAreRefusedAsTheReferenceDoes() throws {
        let dir = Fixtures.temporaryDirectory()
        func load(_ header: String, payload: Int) throws -> String {
            let url = dir.appendingPathComponent("o.safetensors")
            var json = Data(header.utf8)
            while json.count % 8 != 0 { json.append(0x20) }
            var data = Data()
            withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
            data.append(json)
            data.append(Data(count: payload))
            try data.write(to: url)
            do { _ = try SafeTensorsFile(url: url); return "loaded" } catch { return "\(error)" }
        }
        let overlap = try load(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#, payload: 24)
        XCTAssertTrue(overlap.contains("overlap"), overlap)
        let backwards = try load(#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[16,8]}}"#, payload: 16)
        XCTAssertTrue(backwards.contains("a") && backwards.contains("backwards"), backwards)
        let gap = try load(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}}"#, payload: 24)
        XCTAssertTrue(gap.contains("b") && gap.contains("gap"), gap)
        let trailing = try load(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, payload: 16)
        XCTAssertTrue(trailing.contains("8 bytes after the last tensor"), trailing)
        let good = try load(#"{"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, payload: 16)
        XCTAssertEqual(good, "loaded")
    }

    // MARK: - Kind 12: files that are not what they claim

    func testKind12_ConfigOrWeightsThatAreNotRegularFilesAreNamedForWhatTheyAre() throws {
        // A directory named like the config.
        var dir = try copyOfFixture("hf-tiny")
        try FileManager.default.removeItem(at: dir.appendingPathComponent("config.json"))
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("config.json"), withIntermediateDirectories: false)
        assertRefused(dir, mentioning: ["config.json", "is a directory"], "directory config")
        // A FIFO as the config: refused without opening it (opening would block forever).
        dir = try copyOfFixture("hf-tiny")
        try FileManager.default.removeItem(at: dir.appendingPathComponent("config.json"))
        XCTAssertEqual(mkfifo(dir.appendingPathComponent("config.json").path, 0o600), 0)
        assertRefused(dir, mentioning: ["config.json", "FIFO"], "FIFO config")
        // /dev/zero as the config and as the weights: a device, never read.
        for name in ["config.json", "model.safetensors"] {
            dir = try copyOfFixture("hf-tiny")
            try FileManager.default.removeItem(at: dir.appendingPathComponent(name))
            try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent(name).path, withDestinationPath: "/dev/zero")
            assertRefused(dir, mentioning: [name, "device"], "/dev/zero as \(name)")
        }
        // An OpenCLIP config bigger than any real one is refused by size, not read.
        dir = try copyOfFixture("openclip-tiny")
        let big = dir.appendingPathComponent("open_clip_config.json")
        try Data(repeating: 0x20, count: 17 << 20).write(to: big)
        assertRefused(dir, mentioning: ["open_clip_config.json", "MB"], "huge config")
    }
}

extension HostileModelTests {
    /// Sizes that are sane but do not match the checkpoint name the field and the tensor.
    func testKind3_ConfigSizesAreComparedWithTheCheckpointByField() throws {
        let hf: [(String, Int, String)] = [
            ("vision_config.hidden_size", 64, "vision_model.embeddings.patch_embedding.weight"),
            ("vision_config.patch_size", 16, "vision_model.embeddings.patch_embedding.weight"),
            ("vision_config.image_size", 64, "vision_model.embeddings.position_embedding.weight"),
            ("vision_config.intermediate_size", 128, "vision_model.encoder.layers.0.mlp.fc1.weight"),
            ("text_config.hidden_size", 64, "text_model.embeddings.token_embedding.weight"),
            ("text_config.vocab_size", 49408, "text_model.embeddings.token_embedding.weight"),
            ("text_config.max_position_embeddings", 100, "text_model.embeddings.position_embedding.weight"),
            ("projection_dim", 512, "visual_projection.weight"),
        ]
        for (field, value, tensor) in hf {
            let dir = try copyOfFixture("hf-tiny")
            try setField(dir.appendingPathComponent("config.json"), field, value)
            assertRefused(dir, mentioning: ["config.json", field, tensor], "\(field) = \(value)")
        }
        let oc: [(String, Any, String)] = [
            ("model_cfg.vision_cfg.width", 64, "visual.conv1.weight"), ("model_cfg.text_cfg.mlp_ratio", 4.0, "transformer.resblocks.0.mlp.c_fc.weight"),
            ("model_cfg.embed_dim", 32, "visual.proj"), ("model_cfg.text_cfg.context_length", 16, "positional_embedding"),
        ]
        for (field, value, tensor) in oc {
            let dir = try copyOfFixture("openclip-tiny")
            try setField(dir.appendingPathComponent("open_clip_config.json"), field, value)
            assertRefused(dir, mentioning: ["open_clip_config.json", String(field.dropFirst("model_cfg.".count)), tensor], "\(field) = \(value)")
        }
    }
}
