import Foundation
import KestrelModels
import KestrelTestSupport
import XCTest

/// Malformed OWL folders fail at load with an error naming the file and the tensor or field.
final class OWLLoadingErrorTests: XCTestCase {
    /// A copy of a tiny fixture folder whose checkpoint went through `edit` (name -> (shape, values)).
    func damagedCopy(_ name: String, edit: (inout [String: ([Int], [Float])]) -> Void) throws -> URL {
        let source = Fixtures.url("models/\(name)")
        let dir = Fixtures.temporaryDirectory("owl-bad").appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for file in ["config.json", "vocab.json", "merges.txt", "preprocessor_config.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: dir.appendingPathComponent(file))
        }
        let st = try SafeTensorsFile(url: source.appendingPathComponent("model.safetensors"))
        var tensors: [String: ([Int], [Float])] = [:]
        for n in st.names { tensors[n] = (st.entries[n]!.shape, try st.floats(n)) }
        edit(&tensors)
        try SafeTensorsWriter.write(tensors.keys.sorted().map { SafeTensorsWriter.Item($0, shape: tensors[$0]!.0, values: tensors[$0]!.1) },
                                    to: dir.appendingPathComponent("model.safetensors"))
        return dir
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    func testMissingHeadTensorIsNamed() throws {
        let dir = try damagedCopy("owlv2-tiny") { $0["objectness_head.dense2.bias"] = nil }
        let m = message { _ = try OWLModel(directory: dir) }
        XCTAssertTrue(m.contains("model.safetensors") && m.contains("missing tensor objectness_head.dense2.bias"), m)
    }

    func testMisshapenHeadTensorIsNamed() throws {
        let dir = try damagedCopy("owlvit-tiny") { t in
            let (shape, values) = t["box_head.dense2.weight"]!
            t["box_head.dense2.weight"] = ([shape[0] - 1, shape[1]], Array(values.dropLast(shape[1])))
        }
        let m = message { _ = try OWLModel(directory: dir) }
        XCTAssertTrue(m.contains("box_head.dense2.weight") && m.contains("[3, 32]") && m.contains("[4, 32]"), m)
    }

    func testConfigThatDoesNotFitIsNamedByField() throws {
        let dir = try damagedCopy("owlvit-tiny") { _ in }
        let url = dir.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        config["projection_dim"] = 48
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        let m = message { _ = try OWLModel(directory: dir) }
        XCTAssertTrue(m.contains("config.json") && m.contains("projection_dim"), m)

        config["projection_dim"] = 32
        config["model_type"] = "owl-vit"
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        let m2 = message { _ = try OWLModel(directory: dir) }
        XCTAssertTrue(m2.contains("config.json") && m2.contains("model_type") && m2.contains("owl-vit"), m2)

        config["model_type"] = "owlvit"
        var vision = config["vision_config"] as! [String: Any]
        vision["image_size"] = 64
        config["vision_config"] = vision
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        let m3 = message { _ = try OWLModel(directory: dir) }
        XCTAssertTrue(m3.contains("vision_config.image_size"), m3)
    }

    func testTheKeyTableListsEveryCheckpointTensor() throws {
        for name in ["owlvit-tiny", "owlv2-tiny"] {
            let st = try SafeTensorsFile(url: Fixtures.url("models/\(name)/model.safetensors"))
            let model = try OWLModel(directory: Fixtures.url("models/\(name)"))
            XCTAssertEqual(Set(model.kind.checkpointKeys(model.config.clip)), Set(st.names), name)
        }
    }
}
