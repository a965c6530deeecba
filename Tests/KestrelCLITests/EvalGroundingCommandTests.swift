import Foundation
import KestrelTestSupport
import XCTest

/// `kestrel data grounding` then `kestrel eval grounding` as a user runs them, with the default
/// model, on a few scenes: the document's fields, and the errors for a bad grounding file.
final class EvalGroundingCommandTests: XCTestCase {
    func scenes(_ count: Int) throws -> URL {
        let dir = Fixtures.temporaryDirectory("eval-grounding").appendingPathComponent("scenes")
        let r = try Kestrel.run(["data", "grounding", "--out", dir.path, "--count", "\(count)", "--seed", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\(count) heldout scenes"), r.stdout)
        return dir
    }

    func testDataGroundingWritesTheFileAndRefusesToOverwriteIt() throws {
        let dir = try scenes(4)
        let lines = try String(contentsOf: dir.appendingPathComponent("grounding.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 4)
        let first = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        for key in ["format", "version", "split", "seed", "index", "path", "width", "height", "query", "target", "box", "distractors",
                    "held_out_combination", "objects"] { XCTAssertNotNil(first[key], key) }
        XCTAssertEqual(first["seed"] as? Int, 3)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent(first["path"] as! String).path))
        // The same options give the same file.
        let again = Fixtures.temporaryDirectory("eval-grounding-again")
        XCTAssertEqual(try Kestrel.run(["data", "grounding", "--out", again.path, "--count", "4", "--seed", "3"]).status, 0)
        XCTAssertEqual(try Data(contentsOf: again.appendingPathComponent("grounding.jsonl")), try Data(contentsOf: dir.appendingPathComponent("grounding.jsonl")))
        let twice = try Kestrel.run(["data", "grounding", "--out", dir.path, "--count", "4"])
        XCTAssertEqual(twice.status, 1)
        XCTAssertTrue(twice.stderr.contains("grounding.jsonl") && twice.stderr.contains("already exists"), twice.stderr)
        XCTAssertFalse(twice.stderr.contains("data build"), "the command is data grounding: \(twice.stderr)")
        // A run killed before its grounding.jsonl left pictures: a new run refuses to mix its own with them.
        try FileManager.default.removeItem(at: dir.appendingPathComponent("grounding.jsonl"))
        let over = try Kestrel.run(["data", "grounding", "--out", dir.path, "--count", "2"])
        XCTAssertEqual(over.status, 1, over.stderr)
        XCTAssertTrue(over.stderr.contains("images") && over.stderr.contains("already holds 4 files"), over.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("images").path).count, 4, "left as it was")
        let bad = try Kestrel.run(["data", "grounding", "--out", dir.path, "--split", "test"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--split must be train or heldout"), bad.stderr)
    }

    /// `data grounding` into a folder it cannot make: the path and the system's words, not Foundation's error dump.
    func testDataGroundingIntoAnUnwritablePlaceSaysWhyInPlainWords() throws {
        let r = try Kestrel.run(["data", "grounding", "--out", "/proc/kestrel-no-such/scenes", "--count", "2"])   // FileError path
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("/proc/kestrel-no-such"), r.stderr)
        XCTAssertFalse(r.stderr.contains("NSCocoaErrorDomain") || r.stderr.contains("UserInfo"), r.stderr)
    }

    /// Ctrl-C while the held-out scenes are being rendered or evaluated removes the temporary folder.
    func testInterruptedEvalRemovesItsTemporaryScenes() throws {
        let tmp = Fixtures.temporaryDirectory("eval-grounding-sigint")
        let p = Process()
        p.executableURL = Kestrel.binary
        p.arguments = ["eval", "grounding", "--limit", "500"]
        p.environment = ProcessInfo.processInfo.environment.merging(["TMPDIR": tmp.path]) { $1 }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer {   // a failed assertion must not leave the child or the folder behind
            if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
            try? FileManager.default.removeItem(at: tmp)
        }
        func scratch() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? []).filter { $0.hasPrefix("kestrel-grounding-") } }
        let deadline = Date().addingTimeInterval(60)
        while p.isRunning && scratch().isEmpty && Date() < deadline { usleep(10_000) }
        XCTAssertFalse(scratch().isEmpty, "the temporary folder never appeared")
        usleep(300_000)
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        XCTAssertEqual(p.terminationStatus, SIGINT)
        XCTAssertEqual(scratch(), [], "left behind after Ctrl-C")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [], "nothing else left either")
    }

    func testEvalGroundingWithTheDefaultModelWritesTheDocument() throws {
        let dir = try scenes(20)
        let data = dir.appendingPathComponent("grounding.jsonl").path
        let r = try Kestrel.run(["eval", "grounding", "--data", data, "--json", "--resamples", "100", "--seed", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.lines.count, 1, r.stdout)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(doc["format"] as? String, "kestrel-eval")
        XCTAssertEqual(doc["command"] as? String, "grounding")
        XCTAssertEqual(doc["n"] as? Int, 20)
        XCTAssertEqual(doc["failed"] as? Int, 0)
        XCTAssertEqual(doc["resamples"] as? Int, 100)
        XCTAssertTrue(doc["generated"] is NSNull)
        XCTAssertTrue((((doc["model"] as? [String: Any])?["fingerprint"]) as? String)?.hasPrefix("sha256:") == true)
        let digest = (doc["data"] as? [String: Any])?["list_sha256"] as? String ?? ""
        XCTAssertTrue(digest.hasPrefix("sha256:") && digest.count == 71, digest)
        XCTAssertFalse((doc["git_describe"] as? String ?? "").isEmpty)
        func assertInterval(_ any: Any?, _ name: String) {
            guard let o = any as? [String: Any], let v = o["value"] as? Double, let lo = o["low"] as? Double, let hi = o["high"] as? Double else {
                return XCTFail("\(name) is not {value, low, high}: \(String(describing: any))")
            }
            XCTAssertTrue(lo <= v && v <= hi, "\(name): \(o)")
        }
        for key in ["pointing_game", "iou50_accuracy", "mean_iou"] { assertInterval(doc[key], key) }
        let baselines = try XCTUnwrap(doc["baselines"] as? [String: Any])
        for b in ["centre", "random"] {
            for key in ["pointing_game", "iou50_accuracy", "mean_iou"] { assertInterval((baselines[b] as? [String: Any])?[key], "\(b) \(key)") }
        }
        XCTAssertEqual((baselines["box_size"] as? [Double])?.count, 2)
        let differences = try XCTUnwrap(doc["differences"] as? [String: Any])
        XCTAssertEqual(differences.count, 4)
        let subsets = try XCTUnwrap(doc["subsets"] as? [[String: Any]])
        XCTAssertEqual(subsets.filter { ($0["name"] as? String)?.hasPrefix("distractors: ") == true }.compactMap { $0["n"] as? Int }.reduce(0, +), 20)
        // The table; --limit takes the first scenes; a relative --data is taken from the current folder.
        let table = try Kestrel.run(["eval", "grounding", "--data", "scenes/grounding.jsonl", "--resamples", "100", "--seed", "2", "--limit", "5"],
                                    directory: dir.deletingLastPathComponent())
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("5 scenes measured") && table.stdout.contains("pointing game"), table.stdout)
    }

    func testWithoutDataTheDefaultHeldOutSetIsRenderedAndSaidSo() throws {
        let r = try Kestrel.run(["eval", "grounding", "--json", "--resamples", "20", "--limit", "6"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(doc["n"] as? Int, 6)
        XCTAssertTrue((doc["generated"] as? String)?.contains("held-out scenes") == true, "\(doc["generated"] ?? "")")
        XCTAssertEqual((doc["data"] as? [String: Any])?["kind"] as? String, "grounding-generated")
    }

    func testABadGroundingFileIsAClearErrorNamingIt() throws {
        let dir = Fixtures.temporaryDirectory("eval-grounding-bad")
        let file = dir.appendingPathComponent("broken.jsonl")
        try Data("{\"format\": \"kestrel-grounding\", \"version\": 1, \"path\": \"a.png\"}\n".utf8).write(to: file)
        let r = try Kestrel.run(["eval", "grounding", "--data", file.path, "--json"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.contains("broken.jsonl: line 1") && r.stderr.contains("\"query\""), r.stderr)
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
        let missing = try Kestrel.run(["eval", "grounding", "--data", dir.appendingPathComponent("none.jsonl").path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("none.jsonl"), missing.stderr)
        let zero = try Kestrel.run(["eval", "grounding", "--data", file.path, "--limit", "0"])
        XCTAssertNotEqual(zero.status, 0)
        XCTAssertTrue(zero.stderr.contains("--limit must be at least 1"), zero.stderr)
        for t in ["2", "-1.5", "nan"] {   // scores are cosines or probabilities: no box could pass
            let bad = try Kestrel.run(["eval", "grounding", "--data", file.path, "--threshold", t])
            XCTAssertEqual(bad.status, 64, bad.stderr)
            XCTAssertTrue(bad.stderr.contains("--threshold is a score from -1 to 1"), bad.stderr)
        }
    }
}
