import Foundation
import KestrelFiles
import KestrelImage
import KestrelTestSupport
import XCTest
@testable import KestrelTraining

/// Review fixes of issue 8: runs never overwrite each other, resume checks threads, the manifest
/// and a crafted checkpoint's counters, recipes are bounded, manifests stay inside their folder,
/// freeze prefixes are whole name parts, exports keep the model's mean and std.
final class TrainerReviewFixTests: XCTestCase {
    // MARK: M9

    /// A new run (no resume) over a folder that holds an earlier run is refused, and nothing in it changes.
    func testNewRunRefusesANonEmptyOutFolder() throws {
        let folder = try TrainerFixtures.makeDataFolder()
        let recipe = try TrainerFixtures.recipe(folder: folder, steps: 2)
        let out = Fixtures.temporaryDirectory("kestrel-run-old")
        let log = out.appendingPathComponent("train.jsonl")
        try Data("{\"step\": 1, \"loss\": 4.2}\n".utf8).write(to: log)
        XCTAssertThrowsError(try TrainerFixtures.trainer(recipe, folder: folder, out: out).run()) { e in
            XCTAssertTrue("\(e)".contains(out.path) && "\(e)".contains("--resume") && "\(e)".contains("another --out"), "\(e)")
        }
        XCTAssertEqual(try String(contentsOf: log, encoding: .utf8), "{\"step\": 1, \"loss\": 4.2}\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("run.json").path))
        // A folder that does not exist yet, or an empty one, is fine.
        let fresh = Fixtures.temporaryDirectory("kestrel-run-new").appendingPathComponent("run")
        XCTAssertNoThrow(try TrainerFixtures.trainer(recipe, folder: folder, out: fresh).run())
    }

    // MARK: M3, M2

    func trainedCheckpoint(_ recipe: Recipe, folder: URL) throws -> (TrainingCheckpoint, URL) {
        let out = Fixtures.temporaryDirectory("kestrel-run-ckpt")
        try TrainerFixtures.trainer(recipe, folder: folder, out: out).run()
        let file = out.appendingPathComponent("checkpoints").appendingPathComponent(TrainingCheckpoint.fileName(step: recipe.steps))
        return (try TrainingCheckpoint.read(file), out)
    }

    func testResumeRefusesAnotherThreadCount() throws {
        let folder = try TrainerFixtures.makeDataFolder()
        let recipe = try TrainerFixtures.recipe(folder: folder, steps: 2)
        let (c, out) = try trainedCheckpoint(recipe, folder: folder)
        XCTAssertEqual(c.header.threads, recipe.threads)
        var other = recipe
        other.threads = recipe.threads + 1
        XCTAssertThrowsError(try TrainerFixtures.trainer(other, folder: folder, out: out).restore(c, path: "c.kcpt")) { e in
            guard case CheckpointError.otherRecipe(_, let fields) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(fields.joined().contains("threads"), "\(e)")
        }
        XCTAssertFalse(Recipe.bookkeepingFields.contains("threads"))
        XCTAssertNoThrow(try TrainerFixtures.trainer(recipe, folder: folder, out: out).restore(c, path: "c.kcpt"))
    }

    func testResumeRefusesAChangedManifestAndRecordsItsHash() throws {
        let folder = try TrainerFixtures.makeDataFolder()
        let recipe = try TrainerFixtures.recipe(folder: folder, steps: 2)
        let (c, out) = try trainedCheckpoint(recipe, folder: folder)
        let manifest = folder.appendingPathComponent("manifest.jsonl")
        let hash = SHA256.hex(SHA256.hash(try Data(contentsOf: manifest)))
        XCTAssertEqual(c.header.manifestSHA256, hash)
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("run.json"))) as! [String: Any]
        XCTAssertEqual(record["manifest_sha256"] as? String, hash)
        // Same number of entries per source, one caption changed.
        let text = try String(contentsOf: manifest, encoding: .utf8)
        try text.replacingOccurrences(of: "\"a red square\"", with: "\"a crimson square\"").write(to: manifest, atomically: true, encoding: .utf8)
        XCTAssertNotEqual(text, try String(contentsOf: manifest, encoding: .utf8))
        XCTAssertThrowsError(try TrainerFixtures.trainer(recipe, folder: folder, out: out).restore(c, path: "c.kcpt")) { e in
            XCTAssertTrue("\(e)".contains("the data folder's manifest changed since the checkpoint"), "\(e)")
        }
    }

    // MARK: M6, M7

    func recipeJSON(_ edit: (inout [String: Any]) -> Void) throws -> Data {
        let json = try JSONSerialization.jsonObject(with: TrainerFixtures.recipe(folder: URL(fileURLWithPath: "/tmp/none")).canonicalJSON())
        var obj = json as! [String: Any]
        edit(&obj)
        return try JSONSerialization.data(withJSONObject: obj)
    }

    func assertRefused(_ field: String, file: StaticString = #filePath, line: UInt = #line, _ edit: (inout [String: Any]) -> Void) throws {
        XCTAssertThrowsError(try Recipe.decode(try recipeJSON(edit), file: "r.json"), file: file, line: line) { e in
            XCTAssertEqual((e as? RecipeError)?.field, field, "\(e)", file: file, line: line)
            XCTAssertEqual((e as? RecipeError)?.file, "r.json", file: file, line: line)
        }
    }

    func testCropBoundsAreChecked() throws {
        XCTAssertNoThrow(try Recipe.decode(try recipeJSON { _ in }, file: "r.json"))
        func aug(_ key: String, _ v: [Double]) -> (inout [String: Any]) -> Void {
            { o in var a = o["augmentation"] as! [String: Any]; a[key] = v; o["augmentation"] = a }
        }
        try assertRefused("augmentation.crop_ratio", aug("crop_ratio", [1, 1e300]))
        try assertRefused("augmentation.crop_ratio", aug("crop_ratio", [0.001, 1]))
        try assertRefused("augmentation.crop_ratio", aug("crop_ratio", [2, 1]))
        try assertRefused("augmentation.crop_scale", aug("crop_scale", [0.5, 2]))
        try assertRefused("augmentation.crop_scale", aug("crop_scale", [0, 1]))
        try assertRefused("augmentation.crop_scale", aug("crop_scale", [0.9, 0.5]))
        // Augment itself does not trap on out-of-range parameters given through the library.
        var rng = TrainingRNG(seed: 1)
        for _ in 0..<20 {
            let b = Augment.randomResizedCrop(width: 30, height: 20, scale: (1, 1), ratio: (1, 1e300), rng: &rng)
            XCTAssertTrue(b.w >= 1 && b.w <= 30 && b.h >= 1 && b.h <= 20)
        }
    }

    func testRecipeSizesAreBoundedByMemory() throws {
        func initial(_ key: String, _ v: Int) -> (inout [String: Any]) -> Void {
            { o in var m = o["model"] as! [String: Any]; var i = m["init"] as! [String: Any]; i[key] = v; m["init"] = i; o["model"] = m }
        }
        // Terabytes of parameters.
        try assertRefused("model.init") { o in initial("width", 65_536)(&o); initial("layers", 65_536)(&o); initial("mlp_width", 65_536)(&o) }
        try assertRefused("model.init") { o in initial("text_layers", 65_536)(&o); initial("text_width", 8192)(&o); initial("text_mlp_width", 65_536)(&o) }
        // A patch grid whose tokens cannot fit.
        try assertRefused("model.init.image_size") { o in initial("image_size", 65_536)(&o); initial("patch_size", 1)(&o) }
        // micro x micro similarities past Int32.
        try assertRefused("micro_batch_size") { o in o["batch_size"] = 65_536; o["micro_batch_size"] = 65_536 }
        // Activations past Int32 / memory.
        try assertRefused("model.init.width") { o in
            o["batch_size"] = 32_768; o["micro_batch_size"] = 32_768; initial("image_size", 4096)(&o); initial("patch_size", 16)(&o)
        }
    }

    // MARK: L4

    /// Tampered headers (with a valid checksum) are refused as damaged, never a crash.
    func testCraftedCheckpointsAreRefused() throws {
        let folder = try TrainerFixtures.makeDataFolder()
        let recipe = try TrainerFixtures.recipe(folder: folder, steps: 2)
        let (good, out) = try trainedCheckpoint(recipe, folder: folder)
        let trainer = try TrainerFixtures.trainer(recipe, folder: folder, out: out)
        func refused(_ what: String, _ edit: (inout TrainingCheckpoint) -> Void, line: UInt = #line) {
            var c = good
            edit(&c)
            XCTAssertThrowsError(try trainer.restore(try TrainingCheckpoint.decode(try c.encoded(), path: "t.kcpt"), path: "t.kcpt"),
                                 what, line: line) { e in
                switch e as? CheckpointError {
                case .damaged?, .otherModel?: break
                default: XCTFail("\(what): \(e)", line: line)
                }
            }
        }
        refused("overflowing shape") { $0.header.tensors[0].shape = [Int.max, 4] }
        refused("huge shape") { $0.header.tensors[0].shape = [1 << 40, 1 << 20] }
        refused("negative dimension") { $0.header.tensors[0].shape = [-1, 5] }
        refused("renamed tensor") { $0.header.tensors[0].name = "vision.other" }
        refused("short generator") { $0.header.rng.state = [1, 2] }
        refused("short loader generator") { $0.header.loader.rng.state = [1, 2, 3] }
        refused("loader position past the source") { $0.header.loader.sources[0].position = 12 }
        refused("negative loader position") { $0.header.loader.sources[0].position = -1 }
        refused("negative epoch") { $0.header.loader.sources[0].epoch = -1 }
        refused("negative step") { $0.header.step = -1 }
        refused("step past the recipe") { $0.header.step = recipe.steps + 1 }
        refused("negative AdamW step") { $0.header.adamStep = -2 }
        // The untouched checkpoint still restores.
        XCTAssertNoThrow(try trainer.restore(try TrainingCheckpoint.decode(try good.encoded(), path: "t.kcpt"), path: "t.kcpt"))
    }

    // MARK: L6

    func testManifestPathsAndCaptionsAreChecked() throws {
        let folder = try TrainerFixtures.makeDataFolder()
        let url = folder.appendingPathComponent("manifest.jsonl")
        let original = try String(contentsOf: url, encoding: .utf8)
        let lines = original.split(separator: "\n").count
        let cases: [(String, String)] = [
            (#"{"path": "../outside.png", "captions": ["x"], "split": "train", "source": "scenes", "licence": "MIT"}"#, "path"),
            (#"{"path": "images/../../x.png", "captions": ["x"], "split": "train", "source": "scenes", "licence": "MIT"}"#, "path"),
            (#"{"path": "/etc/passwd", "captions": ["x"], "split": "train", "source": "scenes", "licence": "MIT"}"#, "path"),
            (#"{"path": "", "captions": ["x"], "split": "train", "source": "scenes", "licence": "MIT"}"#, "path"),
            (#"{"path": "images/0-red-square.png", "captions": [], "split": "train", "source": "scenes", "licence": "MIT"}"#, "captions"),
            (#"{"path": "images/0-red-square.png", "captions": ["a", " "], "split": "train", "source": "scenes", "licence": "MIT"}"#, "captions[1]"),
        ]
        for (line, field) in cases {
            try (original + line + "\n").write(to: url, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try DataLoader.readManifest(url), line) { e in
                guard case DataLoaderError.badManifestField(let path, let n, let f, _)? = e as? DataLoaderError else { return XCTFail("\(e)") }
                XCTAssertEqual([path, "\(n)", f], [url.path, "\(lines + 1)", field])
                XCTAssertTrue("\(e)".contains("line \(lines + 1): field \(field) "), "\(e)")
            }
        }
        // A name that merely contains dots is fine.
        try (original + #"{"path": "images/a..b.png", "captions": ["x"], "split": "heldout", "source": "scenes", "licence": "MIT"}"# + "\n")
            .write(to: url, atomically: true, encoding: .utf8)
        XCTAssertNoThrow(try DataLoader.readManifest(url))
    }

    // MARK: L14

    func testFreezePrefixMustEndAtANameBoundary() throws {
        let folder = try TrainerFixtures.makeDataFolder()
        var recipe = try TrainerFixtures.recipe(folder: folder, steps: 2)
        let setup = TrainingSetup(model: TinyContrastiveModel(imageSize: 16), imageSize: 16, contextLength: 8,
                                  tokenizer: TrainerFixtures.tokenizer, mean: PreprocessConfig.openAIMean, std: PreprocessConfig.openAIStd)
        let loader = try TrainerFixtures.loader(recipe, folder: folder)
        var options = Trainer.Options(out: Fixtures.temporaryDirectory("kestrel-freeze"))
        options.recipeFile = "my-recipe.json"
        recipe.freeze = ["logit_scale", "text.tok"]
        XCTAssertThrowsError(try Trainer(recipe: recipe, setup: setup, loader: loader, options: options)) { e in
            XCTAssertEqual((e as? RecipeError)?.field, "freeze[1]", "\(e)")
            XCTAssertEqual((e as? RecipeError)?.file, "my-recipe.json", "\(e)")
            XCTAssertTrue("\(e)".contains("\"text.tok.\""), "\(e)")
        }
        recipe.freeze = ["nothing."]
        XCTAssertThrowsError(try Trainer(recipe: recipe, setup: setup, loader: loader, options: options)) { e in
            XCTAssertEqual((e as? RecipeError)?.file, "my-recipe.json", "\(e)")
            XCTAssertEqual((e as? RecipeError)?.field, "freeze[0]", "\(e)")
        }
        recipe.freeze = ["logit_scale", "text."]
        let t = try Trainer(recipe: recipe, setup: setup, loader: loader, options: options)
        XCTAssertEqual(t.setup.model.parameters.views.filter { !$0.trainable }.map(\.name).sorted(), ["logit_scale", "text.token"])
    }

    // MARK: M4

    func testExportKeepsTheMeanAndStdTrainedWith() throws {
        let models = Fixtures.temporaryDirectory("kestrel-ft-mean")
        let source = models.appendingPathComponent("src")
        try FileManager.default.copyItem(at: Fixtures.url("models/hf-tiny"), to: source)
        let preURL = source.appendingPathComponent("preprocessor_config.json")
        var pre = try JSONSerialization.jsonObject(with: Data(contentsOf: preURL)) as! [String: Any]
        pre["image_mean"] = [0.5, 0.5, 0.5]
        pre["image_std"] = [0.25, 0.5, 0.75]
        try JSONSerialization.data(withJSONObject: pre).write(to: preURL)
        let json = try String(contentsOf: Fixtures.repoRoot.appendingPathComponent("recipes/tiny.json"), encoding: .utf8)
        var obj = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        obj["model"] = ["from": source.path]
        let recipe = try Recipe.decode(JSONSerialization.data(withJSONObject: obj), file: "ft.json")
        let bpe = Fixtures.repoRoot.appendingPathComponent("Vocab/bpe_simple_vocab_16e6.txt.gz")
        let (setup, graph) = try TrainingSetup.clip(recipe: recipe, recipeFile: nil, bpeGzip: bpe)
        XCTAssertEqual(setup.mean, [0.5, 0.5, 0.5])
        XCTAssertEqual(setup.std, [0.25, 0.5, 0.75])
        let out = models.appendingPathComponent("out")
        try setup.export!(out, "f32")
        let written = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("preprocessor_config.json"))) as! [String: Any]
        XCTAssertEqual(written["image_mean"] as? [Double], [0.5, 0.5, 0.5])
        XCTAssertEqual(written["image_std"] as? [Double], [0.25, 0.5, 0.75])
        let reread = try PreprocessConfig.load(modelDirectory: out)
        XCTAssertEqual(reread.mean, [0.5, 0.5, 0.5])
        // The default stays OpenAI's, exactly as published.
        let standard = String(decoding: try ModelExport.preprocessorJSON(graph.config), as: UTF8.self)
        XCTAssertTrue(standard.contains("0.48145466") && standard.contains("0.26862954"), standard)
        // A preprocessor config that exists but is broken is an error naming it.
        try Data("{not json".utf8).write(to: preURL)
        XCTAssertThrowsError(try TrainingSetup.clip(recipe: recipe, recipeFile: nil, bpeGzip: bpe)) { e in
            XCTAssertTrue("\(e)".contains("preprocessor_config.json"), "\(e)")
        }
    }
}
