import Foundation
import KestrelTestSupport
import XCTest

/// `kestrel embed`, `tokenize` and `info`, run as a user runs them.
final class EmbedCommandTests: XCTestCase {
    /// End to end (files -> decode -> preprocess -> tokenizer -> towers -> JSON) against the references.
    func testEmbedMatchesReferenceEndToEnd() throws {
        for name in ["hf-tiny", "openclip-tiny"] {
            let ref = try ModelReference.load(Fixtures.url("models/\(name).reference.json"))
            var args = ["embed", "--model", "Tests/Fixtures/models/\(name)"]
            for t in ref.texts { args += ["--text", t.text] }
            for i in ref.images { args += ["--image", "Tests/Fixtures/models/\(i.file)"] }
            let r = try Kestrel.run(args)
            XCTAssertEqual(r.status, 0, r.stderr)
            let rows = try r.jsonLines()
            XCTAssertEqual(rows.count, ref.texts.count + ref.images.count)
            let expected = ref.texts.map { ("text", $0.text, $0.normalized) } + ref.images.map { ("image", "Tests/Fixtures/models/\($0.file)", $0.normalized) }
            for (row, (kind, input, want)) in zip(rows, expected) {
                XCTAssertEqual(row["kind"] as? String, kind)
                XCTAssertEqual(row["input"] as? String, input)
                let got = (row["embedding"] as! [NSNumber]).map(\.floatValue)
                XCTAssertGreaterThanOrEqual(cosine(got, want), 0.99999, "\(name) \(input)")
                XCTAssertLessThanOrEqual(maxAbsDifference(got, want), 1e-4, "\(name) \(input)")
            }
        }
    }

    func testRawSkipsNormalisationAndOrderFollowsTheCommandLine() throws {
        let ref = try ModelReference.load(Fixtures.url("models/openclip-tiny.reference.json"))
        let image = "Tests/Fixtures/models/\(ref.images[0].file)"
        let r = try Kestrel.run(["embed", "--model", "Tests/Fixtures/models/openclip-tiny", "--image", image,
                                 "--text", ref.texts[0].text, "--raw"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try r.jsonLines()
        XCTAssertEqual(rows.map { $0["kind"] as? String }, ["image", "text"])
        let raw = (rows[1]["embedding"] as! [NSNumber]).map(\.floatValue)
        XCTAssertLessThanOrEqual(maxAbsDifference(raw, ref.texts[0].raw), 1e-4 * max(1, ref.texts[0].raw.map(abs).max()!))
    }

    func testUnreadableImageIsAnErrorLineAndTheRestIsWritten() throws {
        let dir = Fixtures.temporaryDirectory()
        let empty = dir.appendingPathComponent("empty.jpg")
        let text = dir.appendingPathComponent("notes.png")
        try Data().write(to: empty)
        try Data("not an image".utf8).write(to: text)
        let r = try Kestrel.run(["embed", "--model", "Tests/Fixtures/models/hf-tiny", "--text", "a cat",
                                 "--image", empty.path, "--image", "samples/images/circles/red_circle.png",
                                 "--image", text.path, "--image", dir.appendingPathComponent("missing.png").path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(try r.jsonLines().map { $0["input"] as? String }, ["a cat", "samples/images/circles/red_circle.png"])
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        XCTAssertEqual(errors.count, 3, r.stderr)
        for name in ["empty.jpg", "notes.png", "missing.png"] {
            XCTAssertTrue(errors.contains { $0.contains(name) }, "no error line names \(name): \(r.stderr)")
        }
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
    }

    func testBadModelFolderIsAClearError() throws {
        let r = try Kestrel.run(["embed", "--model", "Tests/Fixtures", "--text", "x"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("not a model folder"), r.stderr)
    }

    func testTokenizePadsTo77() throws {
        let input = """
            {"text": "a photo of an astronaut riding a horse on mars"}
            {"text": ""}

            """
        let r = try Kestrel.run(["tokenize"], stdin: input)
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try r.jsonLines()
        XCTAssertEqual(rows.count, 2)
        let ids = (rows[0]["ids"] as! [NSNumber]).map(\.intValue)
        XCTAssertEqual(ids.count, 77)
        XCTAssertEqual(Array(ids.prefix(12)), [49406, 320, 1125, 539, 550, 18376, 6765, 320, 4558, 525, 7496, 49407])
        XCTAssertEqual(Set(ids.dropFirst(12)), [0])
        XCTAssertEqual(Array((rows[1]["ids"] as! [NSNumber]).map(\.intValue).prefix(3)), [49406, 49407, 0])
        // A model folder's own vocabulary (the reduced HF one has other special ids).
        let hf = try Kestrel.run(["tokenize", "--model", "Tests/Fixtures/models/hf-tiny"], stdin: "{\"text\": \"a photo of a cat\"}\n")
        let ref = try ModelReference.load(Fixtures.url("models/hf-tiny.reference.json"))
        let hfIDs = (try hf.jsonLines()[0]["ids"] as! [NSNumber]).map(\.intValue)
        XCTAssertEqual(Array(hfIDs.prefix(7)), Array(ref.texts[0].ids.prefix(7)))
    }

    func testTokenizeReportsBadLines() throws {
        let r = try Kestrel.run(["tokenize"], stdin: "{\"text\": \"ok\"}\nnot json\n{\"txt\": 1}\n")
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.lines.count, 1)
        XCTAssertTrue(r.stderr.contains("line 2") && r.stderr.contains("line 3"), r.stderr)
    }

    func testInfoDescribesTheModel() throws {
        let r = try Kestrel.run(["info", "--model", "Tests/Fixtures/models/openclip-tiny", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let info = try r.jsonLines()[0]
        XCTAssertEqual(info["layout"] as? String, "openclip")
        XCTAssertEqual(info["embedding_dim"] as? Int, 16)
        XCTAssertEqual(info["dtype"] as? [String], ["F16"])
        XCTAssertEqual((info["vision"] as? [String: Any])?["activation"] as? String, "gelu")
        XCTAssertGreaterThan(info["parameters"] as? Int ?? 0, 1_000_000)
    }
}
