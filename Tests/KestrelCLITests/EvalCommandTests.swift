import Foundation
import KestrelTestSupport
import XCTest

/// `kestrel eval zero-shot` and `kestrel eval retrieval` run on the tiny fixture model over small
/// sets built from the sample images: JSON fields, exit codes, and the errors a user meets.
final class EvalCommandTests: XCTestCase {
    let model = "Tests/Fixtures/models/hf-tiny"
    let samples = Fixtures.repoRoot.appendingPathComponent("samples/images")

    /// A folder per class (circles, squares, triangles; four images each).
    func classFolder() throws -> URL {
        let dir = Fixtures.temporaryDirectory("kestrel-eval-folder")
        for cls in ["circles", "squares", "triangles"] {
            try FileManager.default.copyItem(at: samples.appendingPathComponent(cls), to: dir.appendingPathComponent(cls))
        }
        return dir
    }

    func json(_ r: CommandResult) throws -> [String: Any] {
        XCTAssertEqual(r.lines.count, 1, "one JSON document on one line:\n\(r.stdout)")
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
    }

    func assertInterval(_ any: Any?, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let o = any as? [String: Any], let v = o["value"] as? Double, let lo = o["low"] as? Double, let hi = o["high"] as? Double else {
            return XCTFail("\(name) is not {value, low, high}: \(String(describing: any))", file: file, line: line)
        }
        XCTAssertTrue(lo <= v && v <= hi && (0...1).contains(lo) && (0...1).contains(hi), "\(name): \(o)", file: file, line: line)
    }

    func testZeroShotOverAFolderWritesTheDocumentAndPlots() throws {
        let dir = try classFolder()
        let plots = Fixtures.temporaryDirectory("kestrel-eval-plots").appendingPathComponent("out")   // outside the class folders
        let args = ["eval", "zero-shot", "--model", model, "--json", "--resamples", "200", "--seed", "5", "--plots", plots.path, dir.path]
        let r = try Kestrel.run(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try json(r)
        XCTAssertEqual(doc["format"] as? String, "kestrel-eval")
        XCTAssertEqual(doc["version"] as? Int, 1)
        XCTAssertEqual(doc["command"] as? String, "zero-shot")
        XCTAssertEqual(doc["n"] as? Int, 12)
        XCTAssertEqual(doc["failed"] as? Int, 0)
        XCTAssertEqual(doc["seed"] as? Int, 5)
        XCTAssertEqual(doc["resamples"] as? Int, 200)
        XCTAssertFalse((doc["git_describe"] as? String ?? "").isEmpty, "the code version is recorded")
        XCTAssertEqual(doc["labels"] as? [String], ["circles", "squares", "triangles"])
        XCTAssertEqual((doc["templates"] as? [String])?.count, 8, "the default ensemble")
        let modelInfo = doc["model"] as? [String: Any]
        XCTAssertTrue((modelInfo?["fingerprint"] as? String)?.hasPrefix("sha256:") == true)
        XCTAssertTrue((modelInfo?["path"] as? String)?.hasSuffix("hf-tiny") == true)
        for key in ["top1", "top5", "mean_recall", "ece"] { assertInterval(doc[key], key) }
        XCTAssertEqual((doc["top5"] as? [String: Any])?["k"] as? Int, 3, "top-k with k = min(5, classes)")
        XCTAssertEqual((doc["top5"] as? [String: Any])?["value"] as? Double, 1, "three classes: the truth is always in the top 3")
        let perClass = doc["per_class_recall"] as? [String: Any]
        XCTAssertEqual(perClass?.keys.sorted(), ["circles", "squares", "triangles"])
        for (k, v) in perClass ?? [:] { assertInterval(v, k); XCTAssertEqual((v as? [String: Any])?["n"] as? Int, 4) }
        let counts = (doc["confusion"] as? [String: Any])?["counts"] as? [[Int]]
        XCTAssertEqual(counts?.count, 3)
        XCTAssertEqual(counts?.map { $0.reduce(0, +) }, [4, 4, 4], "rows are the true classes")
        // top-1 is the confusion matrix's trace over n.
        let trace = (0..<3).reduce(0) { $0 + (counts?[$1][$1] ?? 0) }
        XCTAssertEqual((doc["top1"] as? [String: Any])?["value"] as? Double ?? -1, Double(trace) / 12, accuracy: 1e-12)
        XCTAssertEqual((doc["calibration"] as? [Any])?.count, 15)
        let baselines = doc["baselines"] as? [String: Any]
        XCTAssertEqual(baselines?["chance"] as? Double ?? 0, 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(baselines?["majority"] as? Double ?? 0, 1.0 / 3, accuracy: 1e-12)
        for name in ["confusion.png", "reliability.png"] {
            let png = try Data(contentsOf: plots.appendingPathComponent(name))
            XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47], name)
        }
        // The list digest does not depend on where the folder lies.
        let moved = try classFolder()
        let elsewhere = try json(try Kestrel.run(["eval", "zero-shot", "--model", model, "--json", "--resamples", "5", moved.path]))
        XCTAssertEqual((elsewhere["data"] as? [String: Any])?["list_sha256"] as? String, (doc["data"] as? [String: Any])?["list_sha256"] as? String)
        // Same seed, same document; the table gives the same figures.
        XCTAssertEqual(try Kestrel.run(args).stdout, r.stdout)
        let table = try Kestrel.run(["eval", "zero-shot", "--model", model, "--resamples", "200", "--seed", "5", dir.path])
        XCTAssertEqual(table.status, 0, table.stderr)
        let top1 = doc["top1"] as! [String: Any]
        XCTAssertTrue(table.stdout.contains(String(format: "%.4f", top1["value"] as! Double)), table.stdout)
        XCTAssertTrue(table.stdout.contains(String(format: "[%.4f, %.4f]", top1["low"] as! Double, top1["high"] as! Double)), table.stdout)
        for word in ["top-1", "top-3", "chance", "majority", "ECE (15 bins)", "circles", "confusion matrix"] {
            XCTAssertTrue(table.stdout.contains(word), "\(word) in\n\(table.stdout)")
        }
    }

    func testCSVWithAMissingFileNamesItOnceAndExitsOne() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-eval-csv")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("img"), withIntermediateDirectories: true)
        var rows = ["path,label"]
        for (cls, name) in [("circles", "red_circle.png"), ("squares", "blue_square.jpg"), ("triangles", "green_triangle.jpg"),
                            ("circles", "green_circle.jpg")] {
            try FileManager.default.copyItem(at: samples.appendingPathComponent("\(cls)/\(name)"), to: dir.appendingPathComponent("img/\(name)"))
            rows.append("img/\(name),\(cls)")
        }
        rows.append("\"img/gone, really.png\",squares")   // quoted: a comma in the name
        let csv = dir.appendingPathComponent("list.csv")
        try Data((rows.joined(separator: "\r\n") + "\r\n").utf8).write(to: csv)
        let r = try Kestrel.run(["eval", "zero-shot", "--model", model, "--json", "--resamples", "50", "--csv", csv.path])
        XCTAssertEqual(r.status, 1, "an input failed: exit 1\n\(r.stderr)")
        XCTAssertEqual(r.stderr.components(separatedBy: "gone, really.png").count - 1, 1, "named once:\n\(r.stderr)")
        XCTAssertTrue(r.stderr.split(separator: "\n").contains { $0.hasPrefix("error:") && $0.contains("gone, really.png") }, r.stderr)
        let doc = try json(r)
        XCTAssertEqual(doc["n"] as? Int, 4)
        XCTAssertEqual(doc["failed"] as? Int, 1)
        XCTAssertEqual((doc["data"] as? [String: Any])?["kind"] as? String, "csv")
        // The majority baseline counts the true classes measured: 2 circles of 4.
        XCTAssertEqual((doc["baselines"] as? [String: Any])?["majority"] as? Double ?? 0, 0.5, accuracy: 1e-12)
    }

    func testWhenNoImageCanBeUsedEachIsNamedAndTheRunFails() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-eval-csv")
        let csv = dir.appendingPathComponent("list.csv")
        try Data("path,label\nmissing-a.png,x\nmissing-b.jpg,y\n".utf8).write(to: csv)
        let r = try Kestrel.run(["eval", "zero-shot", "--model", model, "--csv", csv.path])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(r.stdout, "")
        for name in ["missing-a.png", "missing-b.jpg"] {
            XCTAssertEqual(r.stderr.components(separatedBy: name).count - 1, 1, "\(name) named once:\n\(r.stderr)")
        }
        XCTAssertTrue(r.stderr.contains("nothing to evaluate"), r.stderr)
    }

    func testATrueLabelMissingFromTheCandidatesIsAClearError() throws {
        let dir = try classFolder()
        let r = try Kestrel.run(["eval", "zero-shot", "--model", model, "--labels", "circles,squares,hexagons", dir.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("\"triangles\"") && r.stderr.contains("not among the candidate labels"), r.stderr)
        XCTAssertEqual(r.stdout, "")
        // A wider candidate set is fine: chance is 1/4 with the extra label.
        let ok = try Kestrel.run(["eval", "zero-shot", "--model", model, "--json", "--resamples", "20", "--labels", "circles,squares,triangles,hexagons",
                                  "--template", "a drawing of a {}.", dir.path])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let doc = try json(ok)
        XCTAssertEqual((doc["baselines"] as? [String: Any])?["chance"] as? Double, 0.25)
        XCTAssertEqual(doc["templates"] as? [String], ["a drawing of a {}."])
        XCTAssertEqual(((doc["per_class_recall"] as? [String: Any])?["hexagons"] as? [String: Any])?["n"] as? Int, 0)
    }

    func testUsageErrors() throws {
        let dir = try classFolder()
        for (args, words) in [
            (["eval", "zero-shot", "--model", model], "FOLDER"),
            (["eval", "zero-shot", "--model", model, "--csv", "x.csv", dir.path], "one of them"),
            (["eval", "zero-shot", "--model", model, "--resamples", "0", dir.path], "--resamples"),
            (["eval", "zero-shot", "--model", model, "--template", "no slot", dir.path], "{}"),
        ] {
            let r = try Kestrel.run(args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(words), "\(args): \(r.stderr)")
        }
        let bad = dir.appendingPathComponent("bad.csv")
        try Data("file,label\na.png,x\n".utf8).write(to: bad)
        let r = try Kestrel.run(["eval", "zero-shot", "--model", model, "--csv", bad.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("error: ") && r.stderr.contains("bad.csv") && r.stderr.contains("path,label"), r.stderr)
    }

    func testRetrievalReportsBothDirectionsWithChance() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-eval-captions")
        var rows = ["path,caption"]
        let images = [("circles/red_circle.png", "red circle"), ("squares/blue_square.jpg", "blue square"),
                      ("triangles/green_triangle.jpg", "green triangle"), ("circles/yellow_circle.jpg", "yellow circle")]
        for (path, caption) in images {
            rows.append("\(samples.appendingPathComponent(path).path),a \(caption)")   // absolute paths
            rows.append("\(samples.appendingPathComponent(path).path),\"a drawing of a \(caption), centred\"")
        }
        let csv = dir.appendingPathComponent("captions.csv")
        try Data((rows.joined(separator: "\n") + "\n").utf8).write(to: csv)
        let r = try Kestrel.run(["eval", "retrieval", "--model", model, "--captions", csv.path, "--json", "--resamples", "100"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try json(r)
        XCTAssertEqual(doc["format"] as? String, "kestrel-eval")
        XCTAssertEqual(doc["command"] as? String, "retrieval")
        XCTAssertEqual(doc["n"] as? [String: Int], ["images": 4, "captions": 8])
        for direction in ["text_to_image", "image_to_text"] {
            let d = doc[direction] as? [String: Any]
            for k in [1, 5, 10] { assertInterval(d?["recall@\(k)"], "\(direction) recall@\(k)") }
            XCTAssertNotNil(d?["chance"], direction)
        }
        let t2i = doc["text_to_image"] as? [String: Any]
        XCTAssertEqual((t2i?["chance"] as? [String: Double])?["recall@1"] ?? 0, 0.25, accuracy: 1e-12, "k/N with one relevant image")
        XCTAssertEqual((t2i?["recall@5"] as? [String: Any])?["value"] as? Double, 1, "four images: every caption finds its image in the top 5")
        // Image -> text: 2 relevant of 8 captions, k = 1: 2/8.
        let i2t = doc["image_to_text"] as? [String: Any]
        XCTAssertEqual((i2t?["chance"] as? [String: Double])?["recall@1"] ?? 0, 0.25, accuracy: 1e-12)

        // A missing image: named once, its captions left out, exit 1.
        try Data((rows.joined(separator: "\n") + "\nnowhere/lost.png,a lost picture\n").utf8).write(to: csv)
        let missing = try Kestrel.run(["eval", "retrieval", "--model", model, "--captions", csv.path, "--resamples", "10"])
        XCTAssertEqual(missing.status, 1, missing.stderr)
        XCTAssertEqual(missing.stderr.components(separatedBy: "lost.png").count - 1, 1, missing.stderr)
        XCTAssertTrue(missing.stdout.contains("text -> image") && missing.stdout.contains("recall@10"), missing.stdout)
        XCTAssertTrue(missing.stdout.contains("4 images, 8 captions measured, 1 images failed"), missing.stdout)
    }

    /// A CSV label holding ESC is printed escaped in the table, as every name the CLI prints.
    func testALabelHoldingESCIsEscapedInTheTable() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-eval-esc")
        let csv = dir.appendingPathComponent("labels.csv")
        let rows = ["path,label",
                    "\(samples.appendingPathComponent("circles/red_circle.png").path),red\u{1B}[2J",
                    "\(samples.appendingPathComponent("squares/blue_square.jpg").path),square"]
        try Data((rows.joined(separator: "\n") + "\n").utf8).write(to: csv)
        let r = try Kestrel.run(["eval", "zero-shot", "--model", model, "--csv", csv.path, "--resamples", "10"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stdout.unicodeScalars.contains("\u{1B}"), r.stdout)
        XCTAssertTrue(r.stdout.contains("red\\x1b[2J"), r.stdout)
    }

    /// More classes than the harness takes: an error naming the option, before any model work.
    func testTooManyCandidateLabelsAreAClearError() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-eval-many")
        let csv = dir.appendingPathComponent("labels.csv")
        try Data("path,label\n\(samples.appendingPathComponent("circles/red_circle.png").path),c0\n".utf8).write(to: csv)
        let names = dir.appendingPathComponent("names.txt")
        try Data((0...10_000).map { "c\($0)" }.joined(separator: "\n").utf8).write(to: names)
        let r = try Kestrel.run(["eval", "zero-shot", "--model", model, "--csv", csv.path, "--labels-file", names.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--labels-file holds 10001 classes; at most 10000"), r.stderr)
    }
}
