import Foundation
import KestrelTestSupport
import XCTest
@testable import KestrelTraining

final class TrainerRecipeTests: XCTestCase {
    func testCommittedRecipesAreValid() throws {
        for name in ["default", "tiny"] {
            let r = try Recipe.load(Fixtures.repoRoot.appendingPathComponent("recipes/\(name).json"))
            XCTAssertEqual(r.batchSize % r.microBatchSize, 0)
            XCTAssertNotNil(r.model.initial)
        }
        let d = try Recipe.load(Fixtures.repoRoot.appendingPathComponent("recipes/default.json"))
        XCTAssertEqual(d.model.initial?.imageSize, 224)
        XCTAssertEqual(d.model.initial?.patchSize, 32)
        XCTAssertEqual(d.batchSize, 64)
    }

    /// Each broken recipe is refused with the field named.
    func testErrorsNameTheField() throws {
        let good = try String(contentsOf: Fixtures.repoRoot.appendingPathComponent("recipes/tiny.json"), encoding: .utf8)
        func error(_ edit: (inout [String: Any]) -> Void) -> RecipeError? {
            var obj = try! JSONSerialization.jsonObject(with: Data(good.utf8)) as! [String: Any]
            edit(&obj)
            let data = try! JSONSerialization.data(withJSONObject: obj)
            do { _ = try Recipe.decode(data, file: "r.json"); return nil } catch { return error as? RecipeError }
        }
        XCTAssertEqual(error { $0["learning_rate"] = nil }?.field, "learning_rate")
        XCTAssertEqual(error { $0["learning_rat"] = 0.1 }?.field, "learning_rat")
        XCTAssertEqual(error { $0["batch_size"] = "64" }?.field, "batch_size")
        XCTAssertEqual(error { $0["micro_batch_size"] = 5 }?.field, "micro_batch_size")
        XCTAssertEqual(error { $0["targets"] = "soft" }?.field, "targets")
        XCTAssertEqual(error { $0["format"] = "other" }?.field, "format")
        XCTAssertEqual(error { $0["version"] = 2 }?.field, "version")
        XCTAssertEqual(error { $0["export_dtype"] = "bf16" }?.field, "export_dtype")
        XCTAssertEqual(error { $0["augmentation"] = ["crop_scale": [0.9, 0.2], "crop_ratio": [0.75, 1.33], "flip": true] }?.field,
                       "augmentation.crop_scale")
        XCTAssertEqual(error { $0["data"] = ["folder": "d", "sources": ["mnist": 1]] }?.field, "data.sources.mnist")
        XCTAssertEqual(error {
            var m = $0["model"] as! [String: Any]; var i = m["init"] as! [String: Any]
            i["heads"] = 3; m["init"] = i; $0["model"] = m
        }?.field, "model.init.heads")
        XCTAssertEqual(error {
            var m = $0["model"] as! [String: Any]; var i = m["init"] as! [String: Any]
            i["width"] = nil; m["init"] = i; $0["model"] = m
        }?.field, "model.init.width")
        XCTAssertEqual(error { $0["model"] = ["from": "x", "init": ($0["model"] as! [String: Any])["init"]!] }?.field, "model")
        XCTAssertNil(error { $0["freeze"] = nil })  // optional
        let e = error { $0["steps"] = 0 }!
        XCTAssertTrue(e.description.contains("field steps"), e.description)
    }

    func testDigestIgnoresBookkeepingAndNamesDifferingFields() throws {
        let folder = URL(fileURLWithPath: "/tmp/none")
        let a = try TrainerFixtures.recipe(folder: folder)
        var b = a
        b.logEvery = 5; b.checkpointEvery = 9; b.threads = 1
        XCTAssertEqual(a.digest, b.digest)
        b.learningRate = 0.02
        b.augmentation.flip = false
        XCTAssertNotEqual(a.digest, b.digest)
        // threads is not bookkeeping (it changes the numerics); the digest leaves it out (checkpoints
        // check it on their own) but a refusal names it.
        XCTAssertEqual(a.differingFields(from: b), ["augmentation.flip", "learning_rate", "threads"])
    }
}
