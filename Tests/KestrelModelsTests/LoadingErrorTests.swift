import Foundation
import KestrelModels
import KestrelTestSupport
import XCTest

/// Broken model folders give errors that name the file, tensor or field at fault.
final class LoadingErrorTests: XCTestCase {
    /// A copy of a fixture model folder that a test may damage.
    func copyOfFixture(_ name: String) throws -> URL {
        let dir = Fixtures.temporaryDirectory().appendingPathComponent(name)
        try FileManager.default.copyItem(at: Fixtures.url("models/\(name)"), to: dir)
        return dir
    }

    /// Rewrites the checkpoint with `edit` applied to its tensors.
    func rewriteWeights(_ url: URL, _ edit: (inout [SafeTensorsWriter.Item]) -> Void) throws {
        let file = try SafeTensorsFile(url: url)
        var items = try file.names.map { SafeTensorsWriter.Item($0, shape: file.entries[$0]!.shape, values: try file.floats($0)) }
        edit(&items)
        try SafeTensorsWriter.write(items, to: url)
    }

    func assertLoadFails(_ dir: URL, mentioning parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try CLIPModel(directory: dir), file: file, line: line) { error in
            for part in parts { XCTAssertTrue("\(error)".contains(part), "\"\(error)\" should mention \(part)", file: file, line: line) }
        }
    }

    func testMissingTensorIsNamed() throws {
        for (name, weights, key) in [("hf-tiny", "model.safetensors", "text_model.encoder.layers.1.mlp.fc2.bias"),
                                     ("openclip-tiny", "open_clip_model.safetensors", "visual.transformer.resblocks.0.attn.in_proj_weight")] {
            let dir = try copyOfFixture(name)
            try rewriteWeights(dir.appendingPathComponent(weights)) { $0.removeAll { $0.name == key } }
            assertLoadFails(dir, mentioning: ["missing tensor", key])
        }
    }

    func testMisshapenTensorIsNamed() throws {
        let dir = try copyOfFixture("hf-tiny")
        let key = "vision_model.embeddings.position_embedding.weight"
        try rewriteWeights(dir.appendingPathComponent("model.safetensors")) { items in
            let i = items.firstIndex { $0.name == key }!
            items[i] = .init(key, shape: [16, 32], values: Array(items[i].values.prefix(16 * 32)))
        }
        assertLoadFails(dir, mentioning: [key, "[16, 32]", "[17, 32]"])
    }

    func testUnknownActivationIsNamed() throws {
        let dir = try copyOfFixture("hf-tiny")
        let url = dir.appendingPathComponent("config.json")
        let text = try String(contentsOf: url, encoding: .utf8)
        try text.replacingOccurrences(of: "\"hidden_act\": \"quick_gelu\",\n    \"hidden_size\": 32,\n    \"image_size\"",
                                      with: "\"hidden_act\": \"swish\",\n    \"hidden_size\": 32,\n    \"image_size\"")
            .write(to: url, atomically: true, encoding: .utf8)
        assertLoadFails(dir, mentioning: ["config.json", "vision activation", "swish"])
    }

    func testBrokenConfigsAreErrors() throws {
        let dir = try copyOfFixture("openclip-tiny")
        let url = dir.appendingPathComponent("open_clip_config.json")
        try "{not json".write(to: url, atomically: true, encoding: .utf8)
        assertLoadFails(dir, mentioning: ["open_clip_config.json", "invalid JSON"])
        try #"{"model_cfg": {"embed_dim": 16, "vision_cfg": {"width": "wide"}}}"#.write(to: url, atomically: true, encoding: .utf8)
        assertLoadFails(dir, mentioning: ["vision_cfg.width", "integer"])
        try #"{"model_cfg": {"embed_dim": 16, "vision_cfg": {"timm_model_name": "convnext_base"}}}"#.write(to: url, atomically: true, encoding: .utf8)
        assertLoadFails(dir, mentioning: ["timm_model_name", "not supported"])
    }

    func testNotAModelFolder() throws {
        let dir = Fixtures.temporaryDirectory()
        assertLoadFails(dir, mentioning: [dir.path, "config.json"])
        assertLoadFails(dir.appendingPathComponent("nope"), mentioning: ["nope"])
        let hf = try copyOfFixture("hf-tiny")
        try FileManager.default.removeItem(at: hf.appendingPathComponent("model.safetensors"))
        assertLoadFails(hf, mentioning: ["missing file", "model.safetensors"])
    }

    func testF16AndBF16CheckpointsLoad() throws {
        // The same HF checkpoint stored as BF16 gives embeddings close to the F32 one.
        let dir = try copyOfFixture("hf-tiny")
        let f32 = try CLIPModel(directory: Fixtures.url("models/hf-tiny"))
        try rewriteWeights(dir.appendingPathComponent("model.safetensors")) { items in
            items = items.map { .init($0.name, shape: $0.shape, values: $0.values, dtype: .bf16) }
        }
        let bf16 = try CLIPModel(directory: dir)
        XCTAssertEqual(bf16.storedDTypes, ["BF16"])
        XCTAssertEqual(bf16.parameterCount, f32.parameterCount)
        let ids = [[1512, 320, 1125, 539, 320, 66, 536, 1513]]
        let a = try f32.encodeText(ids).data, b = try bf16.encodeText(ids).data
        XCTAssertGreaterThan(cosine(a, b), 0.99)
        XCTAssertNotEqual(a, b)
    }
}
