import Foundation
import KestrelTestSupport
import XCTest

/// Faults a tryout of `kestrel train` found, each checked on the real binary.
extension TrainCommandTests {

    /// An unreadable training image is an error naming it, exit 1 (before: libdispatch trapped on
    /// a second wait of the failed prefetch, SIGILL with a backtrace).
    func testTryoutAnUnreadableTrainingImageIsAnErrorNotACrash() throws {
        let (recipe, dir) = try makeRun(steps: 4, checkpointEvery: 2)
        let images = dir.appendingPathComponent("data/images")
        for name in try FileManager.default.contentsOfDirectory(atPath: images.path) {
            try Data([0x89, 0x50, 0x4E, 0x47]).write(to: images.appendingPathComponent(name))   // truncated PNGs
        }
        let r = try Kestrel.run(["train", "--recipe", recipe.path, "--out", dir.appendingPathComponent("run").path, "--quiet"])
        XCTAssertFalse(r.signaled, r.stderr)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("cannot read training image") && r.stderr.contains("/data/images/"), r.stderr)
    }

    /// A picture changed since the data was built is refused (the manifest pins its SHA-256).
    func testTryoutAPictureThatNoLongerMatchesTheManifestIsRefused() throws {
        let (recipe, dir) = try makeRun(steps: 4, checkpointEvery: 2)
        let manifest = dir.appendingPathComponent("data/manifest.jsonl")
        let lines = try String(contentsOf: manifest, encoding: .utf8).split(separator: "\n").map { line -> String in
            var e = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            e["sha256"] = String(repeating: "0", count: 64)
            return String(decoding: try! JSONSerialization.data(withJSONObject: e, options: .sortedKeys), as: UTF8.self)
        }
        try (lines.joined(separator: "\n") + "\n").write(to: manifest, atomically: true, encoding: .utf8)
        let r = try Kestrel.run(["train", "--recipe", recipe.path, "--out", dir.appendingPathComponent("run").path, "--quiet"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("SHA-256 differs from the manifest"), r.stderr)
    }

    /// --resume of a finished run changes nothing (before: its run record was rewritten with 0 samples/s).
    func testTryoutResumingAFinishedRunChangesNothing() throws {
        let (recipe, dir) = try makeRun(steps: 4, checkpointEvery: 2)
        let out = dir.appendingPathComponent("run")
        let first = try Kestrel.run(["train", "--recipe", recipe.path, "--out", out.path, "--quiet"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let record = try Data(contentsOf: out.appendingPathComponent("run.json"))
        let again = try Kestrel.run(["train", "--recipe", recipe.path, "--out", out.path, "--resume", "--quiet"])
        XCTAssertEqual(again.status, 1, again.stderr)
        XCTAssertTrue(again.stderr.contains("holds a finished run"), again.stderr)
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("run.json")), record)
    }

    /// A micro-batch whose contrastive-loss matrices alone exceed the machine is refused before
    /// anything is allocated (before: 46,340 passed the check and the kernel killed the process).
    func testTryoutAHugeMicroBatchIsRefusedBeforeAllocating() throws {
        let (recipe, dir) = try makeRun(steps: 4, checkpointEvery: 2)
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: recipe)) as! [String: Any]
        json["batch_size"] = 46340
        json["micro_batch_size"] = 46340
        try JSONSerialization.data(withJSONObject: json).write(to: recipe)
        let r = try Kestrel.run(["train", "--recipe", recipe.path, "--out", dir.appendingPathComponent("run").path, "--quiet"])
        XCTAssertFalse(r.signaled, r.stderr)
        XCTAssertNotEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("too large"), r.stderr)
    }

    /// A number that does not fit its whole-number field is named (before: "field  has a value out of
    /// range or of the wrong kind (The given data was not valid JSON.)").
    func testTryoutAWholeNumberFieldOutOfRangeIsNamed() throws {
        let (recipe, dir) = try makeRun(steps: 4, checkpointEvery: 2)
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: recipe)) as! [String: Any]
        for (field, value) in [("seed", -1 as Any), ("steps", 2.5 as Any), ("steps", 1e19 as Any)] {
            var json = original
            json[field] = value
            try JSONSerialization.data(withJSONObject: json).write(to: recipe)
            let r = try Kestrel.run(["train", "--recipe", recipe.path, "--out", dir.appendingPathComponent("run").path, "--quiet"])
            XCTAssertNotEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("field \(field) must be a whole number"), "\(field) = \(value): \(r.stderr)")
        }
    }
}
