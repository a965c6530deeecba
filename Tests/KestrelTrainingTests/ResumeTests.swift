import Foundation
import KestrelTestSupport
import XCTest
@testable import KestrelTraining

final class ResumeTests: XCTestCase {
    func losses(_ out: URL) throws -> [Int: Float] {
        try TrainingLog.losses(at: out.appendingPathComponent("train.jsonl"))
    }

    /// Two runs of the same recipe and seed: the same loss at every step, bit for bit.
    func testSameRecipeSameLosses() throws {
        let folder = try TrainerFixtures.makeDataFolder()
        let recipe = try TrainerFixtures.recipe(folder: folder, steps: 6)
        let a = Fixtures.temporaryDirectory("kestrel-run-a"), b = Fixtures.temporaryDirectory("kestrel-run-b")
        try TrainerFixtures.trainer(recipe, folder: folder, out: a).run()
        try TrainerFixtures.trainer(recipe, folder: folder, out: b).run()
        let la = try losses(a), lb = try losses(b)
        XCTAssertEqual(la.count, 6)
        for s in 1...6 { XCTAssertEqual(la[s]!.bitPattern, lb[s]!.bitPattern, "step \(s)") }
        XCTAssertNotEqual(la[1], la[6])  // it trains
        // A different seed gives different losses.
        var other = recipe
        other.seed = 43
        let c = Fixtures.temporaryDirectory("kestrel-run-c")
        try TrainerFixtures.trainer(other, folder: folder, out: c).run()
        XCTAssertNotEqual(try losses(c)[1], la[1])
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: a.appendingPathComponent("run.json"))) as! [String: Any]
        XCTAssertEqual(record["format"] as? String, "kestrel-run")
        XCTAssertEqual(record["steps"] as? Int, 6)
        XCTAssertNotNil((record["machine"] as? [String: Any])?["cpu"])
        XCTAssertGreaterThan(record["peak_rss_bytes"] as? Int ?? 0, 0)
    }

    /// Stopping after a checkpoint and resuming gives the losses of the uninterrupted run.
    func testResumeContinuesExactly() throws {
        let folder = try TrainerFixtures.makeDataFolder()
        let full = try TrainerFixtures.recipe(folder: folder, steps: 8, checkpointEvery: 3)
        let a = Fixtures.temporaryDirectory("kestrel-run-full")
        try TrainerFixtures.trainer(full, folder: folder, out: a).run()
        // The interrupted run: the same recipe stopped after step 3 (a checkpoint) by running a
        // copy whose steps end there, then the checkpoint is rewritten as if from the full recipe.
        let b = Fixtures.temporaryDirectory("kestrel-run-part")
        let first = try TrainerFixtures.trainer(full, folder: folder, out: b)
        try first.trainSteps(3)
        let resumed = try TrainerFixtures.trainer(full, folder: folder, out: b, resume: true)
        let summary = try resumed.run()
        XCTAssertEqual(summary.resumedFromStep, 3)
        let la = try losses(a), lb = try losses(b)
        XCTAssertEqual(Set(lb.keys), Set(1...8))
        for s in 1...8 { XCTAssertEqual(la[s]!.bitPattern, lb[s]!.bitPattern, "step \(s)") }
    }

    func testCheckpointRoundTripAndRefusals() throws {
        let folder = try TrainerFixtures.makeDataFolder()
        let recipe = try TrainerFixtures.recipe(folder: folder, steps: 2, checkpointEvery: 2)
        let out = Fixtures.temporaryDirectory("kestrel-run-ckpt")
        let t = try TrainerFixtures.trainer(recipe, folder: folder, out: out)
        try t.run()
        let file = out.appendingPathComponent("checkpoints").appendingPathComponent(TrainingCheckpoint.fileName(step: 2))
        let c = try TrainingCheckpoint.read(file)
        XCTAssertEqual(c.header.step, 2)
        XCTAssertEqual(c.header.adamStep, 2)
        XCTAssertEqual(c.header.loader, t.loaderState)
        XCTAssertEqual(c.header.rng, t.rng)
        XCTAssertEqual(c.values, t.setup.model.parameters.values)
        XCTAssertEqual(c.m, t.optimizer.m)
        XCTAssertEqual(c.v, t.optimizer.v)
        XCTAssertEqual(c.header.recipeDigest, recipe.digest)
        // Restored into a fresh trainer: the same state.
        let fresh = try TrainerFixtures.trainer(recipe, folder: folder, out: out)
        try fresh.restore(c, path: file.path)
        XCTAssertEqual(fresh.setup.model.parameters.values, c.values)
        XCTAssertEqual(fresh.step, 2)

        // A flipped byte in the tensors: damaged.
        var bytes = [UInt8](try Data(contentsOf: file))
        bytes[bytes.count - 100] ^= 0x40
        XCTAssertThrowsError(try TrainingCheckpoint.decode(bytes, path: "x.kcpt")) { e in
            guard case CheckpointError.damaged = e else { return XCTFail("\(e)") }
            XCTAssertTrue("\(e)".contains("delete it"), "\(e)")
        }
        // Truncated, and not a checkpoint at all.
        let good = [UInt8](try Data(contentsOf: file))
        XCTAssertThrowsError(try TrainingCheckpoint.decode(Array(good.prefix(good.count / 2)), path: "x")) { e in
            guard case CheckpointError.damaged = e else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try TrainingCheckpoint.decode(Array("hello, world, this is text".utf8), path: "x")) { e in
            XCTAssertEqual(e as? CheckpointError, .notACheckpoint(path: "x"))
        }
        // Another recipe: refused, naming the field.
        var other = recipe
        other.learningRate = 0.5
        let stranger = try TrainerFixtures.trainer(other, folder: folder, out: out)
        XCTAssertThrowsError(try stranger.restore(c, path: file.path)) { e in
            XCTAssertEqual(e as? CheckpointError, .otherRecipe(path: file.path, fields: ["learning_rate"]))
        }
        // The data folder changed (one more training entry): refused, naming the source.
        let grown = try TrainerFixtures.makeDataFolder(count: 13)
        XCTAssertThrowsError(try TrainerFixtures.trainer(recipe, folder: grown, out: out).restore(c, path: file.path)) { e in
            XCTAssertTrue("\(e)".contains("scenes: 12 training entries then, 13 now"), "\(e)")
        }
        // A bookkeeping change (log_every) is accepted.
        var chatty = recipe
        chatty.logEvery = 7
        XCTAssertNoThrow(try TrainerFixtures.trainer(chatty, folder: folder, out: out).restore(c, path: file.path))
        // Starting again in a folder with checkpoints, without --resume: refused.
        XCTAssertThrowsError(try TrainerFixtures.trainer(recipe, folder: folder, out: out).run()) { e in
            XCTAssertTrue("\(e)".contains("--resume"), "\(e)")
        }
    }

    /// Accumulation: two micro-batches of 4 give the mean loss, and the gradient of the mean.
    func testAccumulationAveragesLossAndGradients() throws {
        let folder = try TrainerFixtures.makeDataFolder()
        let recipe = try TrainerFixtures.recipe(folder: folder)
        let loader = try TrainerFixtures.loader(recipe, folder: folder)
        let (batch, _) = try loader.batch(count: 8, after: loader.initialState())
        let model = TinyContrastiveModel(imageSize: 16)
        let a = Trainer.slice(batch, from: 0, count: 4, imageSize: 16), b = Trainer.slice(batch, from: 4, count: 4, imageSize: 16)
        XCTAssertEqual(a.count, 4)
        XCTAssertEqual(a.pixels + b.pixels, batch.pixels)
        XCTAssertEqual((a.groups ?? []) + (b.groups ?? []), batch.groups ?? [])
        model.parameters.zeroGradients()
        let la = model.lossAndGradients(a)
        let ga = model.parameters.gradients
        model.parameters.zeroGradients()
        let lb = model.lossAndGradients(b)
        let gb = model.parameters.gradients
        model.parameters.zeroGradients()
        _ = model.lossAndGradients(a)
        _ = model.lossAndGradients(b)
        for i in stride(from: 0, to: ga.count, by: 997) {
            XCTAssertEqual(model.parameters.gradients[i], ga[i] + gb[i], accuracy: 1e-6)
        }
        XCTAssertNotEqual(la, lb)
    }
}

/// The same on the real CLIP graph: recipes/tiny.json over a folder of generated PNGs.
final class ResumeCLIPTests: XCTestCase {
    func trainer(_ recipe: Recipe, out: URL, resume: Bool = false) throws -> Trainer {
        let bpe = Fixtures.repoRoot.appendingPathComponent("Vocab/bpe_simple_vocab_16e6.txt.gz")
        let (setup, _) = try TrainingSetup.clip(recipe: recipe, recipeFile: nil, bpeGzip: bpe)
        let folder = URL(fileURLWithPath: recipe.data.folder)
        let loader = try DataLoader(folder: folder, weights: recipe.data.sources, seed: recipe.seed, tokenizer: setup.tokenizer,
                                    options: DataLoader.Options(recipe: recipe, setup: setup))
        var options = Trainer.Options(out: out)
        options.resume = resume
        options.progress = false
        return try Trainer(recipe: recipe, setup: setup, loader: loader, options: options)
    }

    func testTinyRecipeIsDeterministicAndResumesExactly() throws {
        let folder = try TrainerFixtures.makeDataFolder(count: 12, size: 40)
        var recipe = try Recipe.load(Fixtures.repoRoot.appendingPathComponent("recipes/tiny.json"))
        recipe.data.folder = folder.path
        recipe.steps = 6
        recipe.checkpointEvery = 2
        let a = Fixtures.temporaryDirectory("kestrel-clip-a"), b = Fixtures.temporaryDirectory("kestrel-clip-b")
        let c = Fixtures.temporaryDirectory("kestrel-clip-c")
        try trainer(recipe, out: a).run()
        try trainer(recipe, out: b).run()
        try trainer(recipe, out: c).trainSteps(3)   // stops after step 3; the newest checkpoint is step 2
        try trainer(recipe, out: c, resume: true).run()
        let la = try TrainingLog.losses(at: a.appendingPathComponent("train.jsonl"))
        let lb = try TrainingLog.losses(at: b.appendingPathComponent("train.jsonl"))
        let lc = try TrainingLog.losses(at: c.appendingPathComponent("train.jsonl"))
        XCTAssertEqual(la.count, 6)
        XCTAssertEqual(Set(lc.keys), Set(1...6))
        for s in 1...6 {
            XCTAssertEqual(la[s]!.bitPattern, lb[s]!.bitPattern, "step \(s): two runs differ")
            XCTAssertEqual(la[s]!.bitPattern, lc[s]!.bitPattern, "step \(s): the resumed run differs")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: a.appendingPathComponent("model/model.safetensors").path))
    }
}

final class TrainerFineTuneTests: XCTestCase {
    /// `"from"`: the fixture model (a 1,000-merge vocabulary) trains two steps and exports a
    /// folder with its vocabulary; frozen tensors do not move.
    func testFineTuneFromAModelFolder() throws {
        let folder = try TrainerFixtures.makeDataFolder(count: 12, size: 40)
        let json = try String(contentsOf: Fixtures.repoRoot.appendingPathComponent("recipes/tiny.json"), encoding: .utf8)
        var obj = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        obj["model"] = ["from": Fixtures.url("models/hf-tiny").path]
        obj["data"] = ["folder": folder.path, "sources": ["scenes": 1]]
        obj["steps"] = 2
        obj["warmup_steps"] = 1
        obj["freeze"] = ["vision.block0."]
        let recipe = try Recipe.decode(JSONSerialization.data(withJSONObject: obj), file: "ft.json")
        let bpe = Fixtures.repoRoot.appendingPathComponent("Vocab/bpe_simple_vocab_16e6.txt.gz")
        let (setup, graph) = try TrainingSetup.clip(recipe: recipe, recipeFile: nil, bpeGzip: bpe)
        XCTAssertEqual(graph.config.vocabSize, 1514)
        let before = graph.parameters.values
        let loader = try DataLoader(folder: folder, weights: recipe.data.sources, seed: recipe.seed, tokenizer: setup.tokenizer,
                                    options: DataLoader.Options(recipe: recipe, setup: setup))
        var options = Trainer.Options(out: Fixtures.temporaryDirectory("kestrel-ft"))
        options.progress = false
        try Trainer(recipe: recipe, setup: setup, loader: loader, options: options).run()
        var moved = 0
        for view in graph.parameters.views {
            let changed = (view.offset..<(view.offset + view.count)).contains { graph.parameters.values[$0] != before[$0] }
            if view.name.hasPrefix("vision.block0.") { XCTAssertFalse(changed, view.name) } else if changed { moved += 1 }
        }
        XCTAssertGreaterThan(moved, 10)
        let exported = options.out.appendingPathComponent("model")
        XCTAssertEqual(try Data(contentsOf: exported.appendingPathComponent("vocab.json")).count > 0, true)
        let reloaded = try CheckpointIO.load(exported)
        XCTAssertEqual(reloaded.parameters.values, graph.parameters.values)
    }
}
