import Foundation
import KestrelImage
import KestrelTestSupport
import KestrelTraining
import XCTest

/// `kestrel ground` with the default model (dense CLIP) on rendered scenes, and `kestrel search
/// --grounded`: the JSON-lines contract, boxes inside the picture, heat-map PNGs, bad inputs.
final class GroundCommandTests: XCTestCase {
    /// Held-out rendered scene `index` written as a PNG into `dir`; returns its path and scene.
    static func writeScene(_ index: Int, into dir: URL) throws -> (String, ScenesSource.Scene) {
        let scene = ScenesSource.generate(index: index, heldOut: true, seed: 11)
        let px = ScenesSource.render(scene, seed: 11, index: index)
        let png = try PNGEncoder.encode(pixels: px, width: ScenesSource.size, height: ScenesSource.size, channels: 3)
        let url = dir.appendingPathComponent("scene\(index).png")
        try Data(png).write(to: url)
        return (url.path, scene)
    }

    func testGroundJSONLinesBoxesAndHeatmaps() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-ground")
        let (a, sa) = try Self.writeScene(1, into: dir)
        let (b, _) = try Self.writeScene(2, into: dir)
        let o = sa.objects[0]
        let q = "a \(o.colour.name) \(o.shape.rawValue)"
        let maps = dir.appendingPathComponent("maps")
        let r = try Kestrel.run(["ground", a, b, "--text", q, "--text", "a star", "--threshold", "-1", "--heatmap", maps.path, "--json"],
                                environment: ["KESTREL_MODEL": ""])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = try r.jsonLines()
        XCTAssertFalse(lines.isEmpty)
        for line in lines {
            XCTAssertEqual(Set(line.keys), ["image", "query", "box", "score"])
            XCTAssertTrue([a, b].contains(line["image"] as? String ?? ""))
            XCTAssertTrue([q, "a star"].contains(line["query"] as? String ?? ""))
            let box = try XCTUnwrap(line["box"] as? [Double])
            XCTAssertEqual(box.count, 4)
            XCTAssertTrue(box[0] >= 0 && box[1] >= 0 && box[2] <= 224 && box[3] <= 224 && box[0] < box[2] && box[1] < box[3], "\(box)")
            XCTAssertNotNil(line["score"] as? Double)
        }
        // Both images and both queries got boxes (threshold -1), and a PNG per image and query.
        XCTAssertEqual(Set(lines.map { "\($0["image"]!)|\($0["query"]!)" }).count, 4)
        let files = try FileManager.default.contentsOfDirectory(atPath: maps.path).sorted()
        XCTAssertEqual(files, ["0-scene1-q0.png", "0-scene1-q1.png", "1-scene2-q0.png", "1-scene2-q1.png"])
        let png = try ImageDecoder().decode(bytes: [UInt8](Data(contentsOf: maps.appendingPathComponent(files[0]))), name: files[0])
        XCTAssertEqual(png.width, 224); XCTAssertEqual(png.height, 224)
        // Plain text output: one line per box.
        let plain = try Kestrel.run(["ground", a, "--text", q, "--threshold", "-1", "--max-boxes", "1"], environment: ["KESTREL_MODEL": ""])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertEqual(plain.lines.count, 1)
        XCTAssertTrue(plain.stdout.contains(q))
    }

    func testBadInputsFailClearlyWhileOtherImagesRun() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-ground-bad")
        let (good, _) = try Self.writeScene(4, into: dir)
        let text = dir.appendingPathComponent("notes.png")
        try Data("not a picture".utf8).write(to: text)
        let missing = dir.appendingPathComponent("missing.png").path
        let r = try Kestrel.run(["ground", missing, text.path, good, "--text", "a circle", "--threshold", "-1", "--json"],
                                environment: ["KESTREL_MODEL": ""])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("missing.png"), r.stderr)
        XCTAssertTrue(r.stderr.contains("notes.png"), r.stderr)
        XCTAssertFalse(r.signaled)
        let lines = try r.jsonLines()
        XCTAssertFalse(lines.isEmpty)
        XCTAssertTrue(lines.allSatisfy { $0["image"] as? String == good })
        for args in [["ground", good, "--text", "  "], ["ground", good], ["ground", "--text", "a circle"],
                     ["ground", good, "--text", "a", "--dense-method", "gradcam"], ["ground", good, "--text", "a", "--nms", "2"],
                     ["ground", good, "--text", "a", "--threshold", "2"], ["ground", good, "--text", "a", "--threshold", "nan"]] {
            let bad = try Kestrel.run(args, environment: ["KESTREL_MODEL": ""])
            XCTAssertEqual(bad.status, 64, "\(args): \(bad.stderr)")
            XCTAssertTrue(bad.stdout.isEmpty)
        }
    }

    /// An image query whose file name is not UTF-8: `"query"` shows it (lossy), `"query_bytes"`
    /// holds its exact bytes, as `"image"` and `"image_bytes"` do for the picture.
    func testAnImageQueryNameThatIsNotUTF8KeepsItsBytes() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-ground-latin1")
        let (scene, _) = try Self.writeScene(5, into: dir)
        let name = Array("q".utf8) + [0xE9] + Array(".png".utf8)
        try RawPaths.write(try Data(contentsOf: URL(fileURLWithPath: scene)), to: RawPaths.join(dir, name))
        let r = try Kestrel.shell(#""$K" ground scene5.png --image-query "$(printf 'q\351.png')" --threshold -1 --max-boxes 1 --json"#, in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let line = try XCTUnwrap(r.jsonLines().first)
        XCTAssertEqual(line["query_bytes"] as? String, Data(name).base64EncodedString())
        XCTAssertNotNil(line["query"] as? String)
        XCTAssertNil(line["image_bytes"], "the picture's name is UTF-8")
        let plain = try Kestrel.shell(#""$K" ground scene5.png --image-query "$(printf 'q\351.png')" --threshold -1 --max-boxes 1"#, in: dir)
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertTrue(plain.stdout.contains("q\\xe9.png"), plain.stdout)   // escaped, as every file name in plain output
    }

    func testSearchGroundedAddsTheBestBoxPerResult() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-search-grounded")
        let (a, _) = try Self.writeScene(1, into: dir)
        let (b, _) = try Self.writeScene(2, into: dir)
        let index = dir.appendingPathComponent("ix").path
        let add = try Kestrel.run(["index", "add", "--index", index, a, b], environment: ["KESTREL_MODEL": ""])
        XCTAssertEqual(add.status, 0, add.stderr)
        let r = try Kestrel.run(["search", "--index", index, "--text", "a red circle", "--grounded", "--json", "-k", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = try r.jsonLines()
        XCTAssertEqual(lines.count, 2)
        for line in lines {
            let box = try XCTUnwrap(line["box"] as? [Double], "\(line)")
            XCTAssertTrue(box[0] >= 0 && box[1] >= 0 && box[2] <= 224 && box[3] <= 224 && box[0] < box[2], "\(box)")
            XCTAssertNotNil(line["box_score"] as? Double)
        }
        let plain = try Kestrel.run(["search", "--index", index, "--text", "a red circle", "-k", "1", "--json"])
        XCTAssertNil(try plain.jsonLines().first?["box"], "no box without --grounded")
        let noText = try Kestrel.run(["search", "--index", index, "--like", "1", "--grounded"])
        XCTAssertEqual(noText.status, 64, noText.stderr)
        // A result whose file has gone: the box is null, with a warning, and the others still have theirs.
        try FileManager.default.removeItem(atPath: a)
        let gone = try Kestrel.run(["search", "--index", index, "--text", "a red circle", "--grounded", "--json", "-k", "2"])
        XCTAssertEqual(gone.status, 0, gone.stderr)
        let rows = try gone.jsonLines()
        XCTAssertEqual(rows.filter { $0["box"] is NSNull }.count, 1)
        XCTAssertTrue(gone.stderr.contains("scene1.png"), gone.stderr)
        // A result whose file was replaced by another picture since indexing: no box from the new
        // picture beside the old picture's score, but null with a warning.
        let (other, _) = try Self.writeScene(3, into: Fixtures.temporaryDirectory("kestrel-search-grounded-other"))
        try FileManager.default.removeItem(atPath: b)
        try FileManager.default.copyItem(atPath: other, toPath: b)
        let changed = try Kestrel.run(["search", "--index", index, "--text", "a red circle", "--grounded", "--json", "-k", "2"])
        XCTAssertEqual(changed.status, 0, changed.stderr)
        XCTAssertEqual(try changed.jsonLines().filter { $0["box"] is NSNull }.count, 2)
        XCTAssertTrue(changed.stderr.contains("scene2.png") && changed.stderr.contains("changed since it was indexed"), changed.stderr)
    }

    /// `kestrel bench` reports the dense path's cost next to one image embedding.
    func testBenchReportsTheDenseCost() throws {
        let model = Fixtures.url("models/hf-tiny").path
        let r = try Kestrel.run(["bench", "--model", model, "--json", "--repeats", "1", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try XCTUnwrap(r.jsonLines().first)
        let dense = try XCTUnwrap(o["dense_ms_batch1"] as? Double), image = try XCTUnwrap(o["image_ms_batch1"] as? Double)
        let ratio = try XCTUnwrap(o["dense_over_image"] as? Double)
        XCTAssertGreaterThan(dense, 0)
        XCTAssertEqual(ratio, dense / image, accuracy: 1e-6 * max(1, ratio))
        XCTAssertEqual(o["dense_method"] as? String, "maskclip")   // DenseMethod.standard
        let byMethod = try XCTUnwrap(o["dense_ms_by_method"] as? [String: Double])
        XCTAssertEqual(Set(byMethod.keys), ["maskclip", "clearclip", "naclip"])
        XCTAssertEqual(byMethod["maskclip"], dense)
        let table = try Kestrel.run(["bench", "--model", model, "--repeats", "1", "--threads", "1"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("dense / image"), table.stdout)
    }
}
