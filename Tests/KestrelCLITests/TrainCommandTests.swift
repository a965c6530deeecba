import Foundation
import KestrelTestSupport
import XCTest

/// `kestrel train` run as a user runs it, on recipes/tiny.json over a data folder of the
/// repository's sample pictures.
final class TrainCommandTests: XCTestCase {
    /// A data folder (the twelve sample images, labelled by shape) and a copy of recipes/tiny.json
    /// pointing at it, with `steps` and `checkpointEvery`.
    func makeRun(steps: Int, checkpointEvery: Int) throws -> (recipe: URL, dir: URL) {
        let fm = FileManager.default
        let dir = Fixtures.temporaryDirectory("kestrel-train")
        let data = dir.appendingPathComponent("data")
        try fm.createDirectory(at: data.appendingPathComponent("images"), withIntermediateDirectories: true)
        let samples = Fixtures.repoRoot.appendingPathComponent("samples/images")
        var lines = [String]()
        for sub in try fm.subpathsOfDirectory(atPath: samples.path).sorted() where sub.hasSuffix(".png") || sub.hasSuffix(".jpg") {
            let name = (sub as NSString).lastPathComponent
            try fm.copyItem(at: samples.appendingPathComponent(sub), to: data.appendingPathComponent("images/\(name)"))
            let words = (name as NSString).deletingPathExtension.split(separator: "_")   // red_circle
            let entry: [String: Any] = ["path": "images/\(name)", "captions": ["a \(words[0]) \(words[1])", "\(words[0]) \(words[1])"],
                                        "split": "train", "source": "scenes", "licence": "MIT", "label": String(words[1])]
            lines.append(String(decoding: try JSONSerialization.data(withJSONObject: entry, options: .sortedKeys), as: UTF8.self))
        }
        try (lines.joined(separator: "\n") + "\n").write(to: data.appendingPathComponent("manifest.jsonl"), atomically: true, encoding: .utf8)
        var recipe = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.repoRoot.appendingPathComponent("recipes/tiny.json"))) as! [String: Any]
        recipe["data"] = ["folder": "data", "sources": ["scenes": 1.0]]   // relative to the recipe file
        recipe["steps"] = steps
        recipe["checkpoint_every"] = checkpointEvery
        let url = dir.appendingPathComponent("tiny.json")
        try JSONSerialization.data(withJSONObject: recipe).write(to: url)
        return (url, dir)
    }

    func losses(_ run: URL) throws -> [Int: String] {
        let text = try String(contentsOf: run.appendingPathComponent("train.jsonl"), encoding: .utf8)
        var out = [Int: String]()
        for line in text.split(separator: "\n") {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            // The loss's text as written (shortest round-trip form): equal text, equal Float bits.
            let loss = line.components(separatedBy: "\"loss\":")[1].prefix { $0 != "," }
            out[obj["step"] as! Int] = String(loss)
        }
        return out
    }

    /// The acceptance test: a run killed with SIGKILL after a checkpoint and resumed reaches the
    /// same loss at the last step (and at every step) as an uninterrupted run.
    func testKilledRunResumesToTheSameLosses() throws {
        let steps = 30
        let (recipe, dir) = try makeRun(steps: steps, checkpointEvery: 2)
        let full = dir.appendingPathComponent("full"), killed = dir.appendingPathComponent("killed")
        let r = try Kestrel.run(["train", "--recipe", recipe.path, "--out", full.path, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("trained \(steps) steps"), r.stdout)

        let p = Process()
        p.executableURL = Kestrel.binary
        p.arguments = ["train", "--recipe", recipe.path, "--out", killed.path, "--quiet"]
        p.currentDirectoryURL = Fixtures.repoRoot
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let checkpoints = killed.appendingPathComponent("checkpoints")
        let deadline = Date().addingTimeInterval(120)
        var newest = 0
        while p.isRunning && Date() < deadline {
            let steps = ((try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path)) ?? [])
                .filter { $0.hasSuffix(".kcpt") }.compactMap { Int($0.dropFirst(5).dropLast(5)) }
            newest = steps.max() ?? 0
            if newest >= 6 { break }
            usleep(10_000)
        }
        let killedMidRun = p.isRunning
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        XCTAssertTrue(killedMidRun, "the run ended before it could be killed (newest checkpoint \(newest))")
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        XCTAssertFalse(FileManager.default.fileExists(atPath: killed.appendingPathComponent("run.json").path))

        // Starting again without --resume is refused; with it, the run continues.
        let again = try Kestrel.run(["train", "--recipe", recipe.path, "--out", killed.path, "--quiet"])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("--resume"), again.stderr)
        let resumed = try Kestrel.run(["train", "--recipe", recipe.path, "--out", killed.path, "--resume", "--quiet"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)

        let a = try losses(full), b = try losses(killed)
        XCTAssertEqual(a.count, steps)
        XCTAssertEqual(Set(b.keys), Set(1...steps), "every step logged once")
        XCTAssertEqual(a[steps], b[steps], "loss at the last step")
        for s in 1...steps { XCTAssertEqual(a[s], b[s], "step \(s)") }
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: killed.appendingPathComponent("run.json"))) as! [String: Any]
        XCTAssertNotNil(record["resumed_from_step"] as? Int)
        XCTAssertEqual((record["manifest_sha256"] as? String)?.count, 64)
        for file in ["config.json", "model.safetensors", "vocab.json", "merges.txt", "preprocessor_config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: full.appendingPathComponent("model/\(file)").path), file)
        }
        // The exported folder is a model the rest of kestrel reads.
        let info = try Kestrel.run(["info", "--model", full.appendingPathComponent("model").path, "--json"])
        XCTAssertEqual(info.status, 0, info.stderr)
    }

    /// A resumed run under a changed recipe is refused with the field named.
    func testResumeUnderAnotherRecipeIsRefused() throws {
        let (recipe, dir) = try makeRun(steps: 4, checkpointEvery: 2)
        let out = dir.appendingPathComponent("run")
        XCTAssertEqual(try Kestrel.run(["train", "--recipe", recipe.path, "--out", out.path, "--quiet"]).status, 0)
        let r = try Kestrel.run(["train", "--recipe", recipe.path, "--out", out.path, "--resume", "--steps", "6", "--quiet"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("different recipe") && r.stderr.contains("steps"), r.stderr)
    }

    /// An --out that cannot be made: the path and the system's words, not Foundation's error dump.
    func testUnwritableOutSaysWhyInPlainWords() throws {
        let (recipe, _) = try makeRun(steps: 4, checkpointEvery: 2)
        let r = try Kestrel.run(["train", "--recipe", recipe.path, "--out", "/proc/kestrel-no-such/run", "--quiet"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("/proc/kestrel-no-such"), r.stderr)
        XCTAssertFalse(r.stderr.contains("NSCocoaErrorDomain") || r.stderr.contains("UserInfo"), r.stderr)
    }

    /// Without --resume, an --out that holds an earlier run is refused and left as it was.
    func testNewRunOverAnEarlierRunIsRefused() throws {
        let (recipe, dir) = try makeRun(steps: 4, checkpointEvery: 2)
        let out = dir.appendingPathComponent("run")
        let first = try Kestrel.run(["train", "--recipe", recipe.path, "--out", out.path, "--quiet"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let before = try Data(contentsOf: out.appendingPathComponent("train.jsonl"))
        let record = try Data(contentsOf: out.appendingPathComponent("run.json"))
        let r = try Kestrel.run(["train", "--recipe", recipe.path, "--out", out.path, "--quiet"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains(out.path) && r.stderr.contains("--resume") && r.stderr.contains("another --out"), r.stderr)
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("train.jsonl")), before)
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("run.json")), record)
    }

    /// --threads is part of what a resumed run must keep: the kernels' sums depend on it.
    func testResumeWithOtherThreadsIsRefused() throws {
        let (recipe, dir) = try makeRun(steps: 4, checkpointEvery: 2)
        let out = dir.appendingPathComponent("run")
        let first = try Kestrel.run(["train", "--recipe", recipe.path, "--out", out.path, "--steps", "4", "--threads", "1", "--quiet"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let r = try Kestrel.run(["train", "--recipe", recipe.path, "--out", out.path, "--resume", "--threads", "2", "--quiet"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("threads (1 then, 2 now)"), r.stderr)
    }

    func testBadInputIsRefusedWithTheFieldNamed() throws {
        let (recipe, dir) = try makeRun(steps: 4, checkpointEvery: 2)
        var r = try Kestrel.run(["train", "--recipe", recipe.path, "--steps", "0"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("--steps"), r.stderr)
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: recipe)) as! [String: Any]
        obj["micro_batch_size"] = 5
        try JSONSerialization.data(withJSONObject: obj).write(to: recipe)
        r = try Kestrel.run(["train", "--recipe", recipe.path, "--out", dir.appendingPathComponent("x").path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("micro_batch_size"), r.stderr)
        r = try Kestrel.run(["train", "--recipe", dir.appendingPathComponent("missing.json").path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("missing.json"), r.stderr)
    }
}
