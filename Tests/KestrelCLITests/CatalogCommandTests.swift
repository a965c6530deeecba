import Foundation
import KestrelTestSupport
import XCTest

/// `kestrel index`, `search` and `label`, run as a user runs them.
final class CatalogCommandTests: XCTestCase {
    let model = "Tests/Fixtures/models/hf-tiny"

    /// A folder of `count` distinct decodable images (sample files with a unique tail after the
    /// end marker, which decoders ignore) plus corrupt ones. Returns (folder, corrupt names).
    func makeImageFolder(count: Int) throws -> (URL, [String]) {
        let dir = Fixtures.temporaryDirectory("kestrel-images")
        let samples = try FileManager.default.subpathsOfDirectory(atPath: Fixtures.repoRoot.appendingPathComponent("samples/images").path)
            .filter { $0.hasSuffix(".png") || $0.hasSuffix(".jpg") }.sorted()
        for i in 0..<count {
            let sample = samples[i % samples.count]
            var bytes = try Data(contentsOf: Fixtures.repoRoot.appendingPathComponent("samples/images").appendingPathComponent(sample))
            bytes.append(Data("kestrel-test-\(i)".utf8))
            let sub = dir.appendingPathComponent("part\(i % 3)")
            try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            try bytes.write(to: sub.appendingPathComponent("img\(i)." + (sample as NSString).pathExtension))
        }
        let png = try Data(contentsOf: Fixtures.repoRoot.appendingPathComponent("samples/images/circles/red_circle.png"))
        try png.prefix(png.count / 2).write(to: dir.appendingPathComponent("truncated.png"))
        try Data().write(to: dir.appendingPathComponent("empty.jpg"))
        try Data("hello".utf8).write(to: dir.appendingPathComponent("readme.txt"))  // not an image: skipped silently
        return (dir, ["truncated.png", "empty.jpg"])
    }

    func stats(_ index: URL) throws -> [String: Any] {
        let r = try Kestrel.run(["index", "stats", "--index", index.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try r.jsonLines()[0]
    }

    func testIngestSurvivesSIGKILLAndResumes() throws {
        let (images, corrupt) = try makeImageFolder(count: 150)
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        var rng = SeededRandom(seed: 42)
        var killedMidRun = 0
        for _ in 0..<5 {
            let p = Process()
            p.executableURL = Kestrel.binary
            p.arguments = ["index", "add", "--index", index.path, "--model", model, "--batch-size", "4", "--quiet", images.path]
            p.currentDirectoryURL = Fixtures.repoRoot
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(UInt32.random(in: 150_000...1_200_000, using: &rng))
            if p.isRunning { kill(p.processIdentifier, SIGKILL); killedMidRun += 1 }
            p.waitUntilExit()
        }
        let final = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, images.path])
        XCTAssertEqual(final.status, 1, final.stderr)   // the corrupt files failed (kind 8); the rest is stored
        print("killed \(killedMidRun) of 5 runs mid-ingest")
        XCTAssertGreaterThan(killedMidRun, 0, "no run was killed mid-ingest; make the folder bigger")
        let s = try stats(index)
        XCTAssertEqual(s["items"] as? Int, 150)
        XCTAssertEqual(s["paths"] as? Int, 150)
        XCTAssertEqual(s["indexed"] as? Int, 150)
        // The index holds exactly the store's ids: every item is found by its own vector.
        let list = try Kestrel.run(["index", "list", "--index", index.path, "--json"])
        let rows = try list.jsonLines()
        XCTAssertEqual(Set(rows.map { $0["path"] as! String }).count, 150)
        for row in rows.prefix(20) {
            let id = row["id"] as! Int
            let r = try Kestrel.run(["search", "--index", index.path, "--like", String(id), "-k", "150", "--json"])
            XCTAssertEqual(try r.jsonLines().count, 149, "item \(id) should see every other item")
        }
        // Corrupt files are reported, at the end and in the machine-readable report.
        for name in corrupt { XCTAssertTrue(final.stderr.contains(name), "\(name) not reported: \(final.stderr)") }
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: index.appendingPathComponent("ingest-report.json"))) as! [String: Any]
        let failed = (report["failed"] as! [[String: String]]).map { $0["path"]! }
        XCTAssertEqual(Set(failed.map { ($0 as NSString).lastPathComponent }), Set(corrupt))
        XCTAssertTrue(final.stderr.contains("images/s"), final.stderr)
        let timeLine = final.stderr.split(separator: "\n").first { $0.hasPrefix("time:") } ?? ""
        for stage in ["decode", "preprocess", "encode", "store", "index"] {
            XCTAssertTrue(timeLine.contains(stage), "no \(stage) time in: \(timeLine)")
            XCTAssertNotNil((report["stage_seconds"] as? [String: Any])?[stage], stage)
        }
    }

    func testReingestPicksUpNewChangedAndDeletedFiles() throws {
        let (images, _) = try makeImageFolder(count: 12)
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        XCTAssertEqual(try Kestrel.run(["index", "add", "--index", index.path, "--model", model, images.path]).status, 1)   // the folder holds corrupt files
        XCTAssertEqual(try stats(index)["items"] as? Int, 12)
        // One new file, one changed, one deleted, one duplicate of an existing file.
        let fm = FileManager.default
        let a = images.appendingPathComponent("part0/img0.png")
        try fm.copyItem(at: a, to: images.appendingPathComponent("copy-of-img0.png"))
        var changed = try Data(contentsOf: images.appendingPathComponent("part1/img1.jpg")); changed.append(0x20)
        try changed.write(to: images.appendingPathComponent("part1/img1.jpg"))
        try fm.removeItem(at: images.appendingPathComponent("part2/img2.png"))
        var fresh = try Data(contentsOf: a); fresh.append(Data("new".utf8))
        try fresh.write(to: images.appendingPathComponent("new.png"))
        let r = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--prune", images.path])
        XCTAssertEqual(r.status, 1, r.stderr)   // the corrupt files are retried and fail again
        let s = try stats(index)
        XCTAssertEqual(s["items"] as? Int, 12)   // +1 new, -1 deleted, changed replaces, copy is a second path
        XCTAssertEqual(s["paths"] as? Int, 13)
        XCTAssertEqual(s["indexed"] as? Int, 12)
    }

    func testFlatSearchIsBruteForceOverEmbed() throws {
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        let add = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--index-type", "flat", "samples/images"])
        XCTAssertEqual(add.status, 0, add.stderr)
        let files = try FileManager.default.subpathsOfDirectory(atPath: Fixtures.repoRoot.appendingPathComponent("samples/images").path)
            .filter { $0.contains(".") }.sorted().map { Fixtures.repoRoot.appendingPathComponent("samples/images/\($0)").path }
        let query = "a green triangle"
        let embed = try Kestrel.run(["embed", "--model", model, "--text", query] + files.flatMap { ["--image", $0] })
        let vectors = try embed.jsonLines().map { ($0["embedding"] as! [NSNumber]).map(\.floatValue) }
        let q = vectors[0]
        let expected = zip(files, vectors.dropFirst()).map { (path: $0, score: zip(q, $1).map(*).reduce(0, +)) }
            .sorted { $0.score > $1.score }
        let r = try Kestrel.run(["search", "--index", index.path, "--text", query, "-k", "5", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let got = try r.jsonLines()
        XCTAssertEqual(got.map { $0["rank"] as? Int }, [1, 2, 3, 4, 5])
        for (row, want) in zip(got, expected.prefix(5)) {
            XCTAssertEqual(URL(fileURLWithPath: row["path"] as! String).standardizedFileURL.path, URL(fileURLWithPath: want.path).standardizedFileURL.path)
            XCTAssertEqual((row["score"] as! NSNumber).floatValue, want.score, accuracy: 1e-5)
        }
        // Filters: a minimum score and a path prefix.
        let cut = expected[2].score
        let min = try Kestrel.run(["search", "--index", index.path, "--text", query, "-k", "12", "--min-score", "\(cut - 1e-6)", "--json"])
        XCTAssertEqual(try min.jsonLines().count, 3)
        let prefix = Fixtures.repoRoot.appendingPathComponent("samples/images/squares").path
        let pre = try Kestrel.run(["search", "--index", index.path, "--text", query, "-k", "12", "--prefix", prefix, "--json"])
        let prePaths = try pre.jsonLines().map { $0["path"] as! String }
        XCTAssertEqual(prePaths.count, 4)
        XCTAssertTrue(prePaths.allSatisfy { $0.hasPrefix(prefix) })
    }

    func testTwoModelsCannotShareAnIndex() throws {
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        XCTAssertEqual(try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "samples/images/circles"]).status, 0)
        let r = try Kestrel.run(["index", "add", "--index", index.path, "--model", "Tests/Fixtures/models/openclip-tiny", "samples/images/squares"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("hf-tiny") && r.stderr.contains("openclip-tiny"), r.stderr)
        XCTAssertEqual(try stats(index)["items"] as? Int, 4)
    }

    func testLabelPicksTheBestPromptEnsembleCosine() throws {
        let labels = ["circle", "square", "triangle"]
        let templates = ["a photo of a {}.", "a drawing of a {}."]
        let r = try Kestrel.run(["label", "--model", model, "--labels", labels.joined(separator: ","),
                                 "--template", templates[0], "--template", templates[1], "samples/images", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try r.jsonLines()
        XCTAssertEqual(rows.count, 12)
        // Recompute the class embeddings from `kestrel embed` output.
        let prompts = labels.flatMap { l in templates.map { $0.replacingOccurrences(of: "{}", with: l) } }
        let e = try Kestrel.run(["embed", "--model", model] + prompts.flatMap { ["--text", $0] }).jsonLines()
            .map { ($0["embedding"] as! [NSNumber]).map(\.floatValue) }
        let classes: [[Float]] = labels.indices.map { c in
            var sum = [Float](repeating: 0, count: e[0].count)
            for t in templates.indices { for k in sum.indices { sum[k] += e[c * templates.count + t][k] } }
            let n = sum.map { $0 * $0 }.reduce(0, +).squareRoot()
            return sum.map { $0 / n }
        }
        for row in rows {
            let path = row["path"] as! String
            let image = try Kestrel.run(["embed", "--model", model, "--image", path]).jsonLines()[0]["embedding"] as! [NSNumber]
            let v = image.map(\.floatValue)
            let cos = classes.map { zip($0, v).map(*).reduce(0, +) }
            let best = cos.indices.max { cos[$0] < cos[$1] }!
            XCTAssertEqual(row["label"] as? String, labels[best], path)
            let scores = row["scores"] as! [String: NSNumber]
            XCTAssertEqual(Set(scores.keys), Set(labels))
            XCTAssertEqual(scores.values.map(\.doubleValue).reduce(0, +), 1, accuracy: 1e-5)
            XCTAssertEqual((row["score"] as! NSNumber).doubleValue, scores[labels[best]]!.doubleValue, accuracy: 1e-7)
        }
        // CSV: a header and one row per image; --unknown-below 1 makes every label unknown.
        let csv = try Kestrel.run(["label", "--model", model, "--labels", "circle,square,triangle", "samples/images", "--csv", "--unknown-below", "1"])
        XCTAssertEqual(csv.lines.first, "path,label,score,circle,square,triangle")
        XCTAssertEqual(csv.lines.count, 13)
        XCTAssertTrue(csv.lines.dropFirst().allSatisfy { $0.split(separator: ",")[1] == "unknown" })
    }

    func testRemoveAndRebuildKeepStoreAndIndexInStep() throws {
        let (images, _) = try makeImageFolder(count: 60)
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        XCTAssertEqual(try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", images.path]).status, 1)   // the folder holds corrupt files
        // Remove one folder's files: 20 of 60.
        let rm = try Kestrel.run(["index", "remove", "--index", index.path, images.appendingPathComponent("part1").path])
        XCTAssertEqual(rm.status, 0, rm.stderr)
        var s = try stats(index)
        XCTAssertEqual(s["items"] as? Int, 40)
        XCTAssertEqual(s["indexed"] as? Int, 40)
        // Rebuild as HNSW, tuned: every remaining item is still found by its own vector.
        let rb = try Kestrel.run(["index", "rebuild", "--index", index.path, "--index-type", "hnsw"])
        XCTAssertEqual(rb.status, 0, rb.stderr)
        XCTAssertTrue(rb.stderr.contains("HNSW32,Flat") && rb.stderr.contains("efSearch"), rb.stderr)
        s = try stats(index)
        XCTAssertEqual(s["index_type"] as? String, "HNSW32,Flat")
        XCTAssertEqual(s["indexed"] as? Int, 40)
        let rows = try Kestrel.run(["index", "list", "--index", index.path, "--json"]).jsonLines()
        XCTAssertEqual(rows.count, 40)
        XCTAssertFalse(rows.contains { ($0["path"] as! String).contains("/part1/") })
        // Adding more keeps the chosen type; a removed folder comes back.
        XCTAssertEqual(try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", images.path]).status, 1)   // the folder holds corrupt files
        s = try stats(index)
        XCTAssertEqual(s["items"] as? Int, 60)
        XCTAssertEqual(s["indexed"] as? Int, 60)
        XCTAssertEqual(s["index_type"] as? String, "HNSW32,Flat")
    }

    func testDamagedIndexFileIsRebuiltFromTheStore() throws {
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        XCTAssertEqual(try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", "samples/images"]).status, 0)
        try Data("garbage".utf8).write(to: index.appendingPathComponent("index.faiss"))
        let r = try Kestrel.run(["search", "--index", index.path, "--text", "a red square", "-k", "3", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try r.jsonLines().count, 3)
        XCTAssertTrue(r.stderr.contains("rebuild"), r.stderr)
    }

    func testMissingIndexIsAClearError() throws {
        let r = try Kestrel.run(["search", "--index", "/nonexistent/ix", "--text", "x"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("holds no Kestrel index"), r.stderr)
    }

    /// The automatic index type follows memory: a budget too small for full vectors gives SQ8 codes.
    func testAutomaticTypeFollowsTheMemoryBudget() throws {
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        let r = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", "samples/images"],
                                environment: ["KESTREL_INDEX_MEMORY": "1200"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let s = try stats(index)
        XCTAssertEqual(s["index_type"] as? String, "SQ8")
        XCTAssertEqual(s["indexed"] as? Int, 12)
        XCTAssertEqual(try Kestrel.run(["search", "--index", index.path, "--text", "a cat", "-k", "12", "--json"]).jsonLines().count, 12)
        let roomy = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        XCTAssertEqual(try Kestrel.run(["index", "add", "--index", roomy.path, "--model", model, "--quiet", "samples/images"]).status, 0)
        XCTAssertEqual(try stats(roomy)["index_type"] as? String, "Flat")
    }
}
