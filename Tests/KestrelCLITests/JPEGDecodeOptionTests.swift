import Foundation
import KestrelTestSupport
import XCTest

/// Issue 7, item 4: `--jpeg-decode fast|exact` on the commands that read images; an index records
/// the setting it was built with, follows it when the option is left out, and refuses the other.
final class JPEGDecodeOptionTests: XCTestCase {
    let model = "Tests/Fixtures/models/hf-tiny"

    /// A 300 x 251 JPEG: the tiny model (32 pixels) reduces it to 3/8.
    func photo() throws -> URL { Fixtures.url("images/jpeg_large.jpg") }

    func embedding(_ image: URL, _ extra: [String]) throws -> [Float] {
        let r = try Kestrel.run(["embed", "--model", model, "--image", image.path] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        return (try r.jsonLines().first?["embedding"] as? [NSNumber] ?? []).map(\.floatValue)
    }

    func testEmbedTakesTheOptionAndFastIsTheDefault() throws {
        let image = try photo()
        let byDefault = try embedding(image, [])
        let fast = try embedding(image, ["--jpeg-decode", "fast"])
        let exact = try embedding(image, ["--jpeg-decode", "exact"])
        XCTAssertEqual(byDefault, fast)
        XCTAssertNotEqual(fast, exact, "a reduced decode changes the last bits")
        XCTAssertGreaterThan(cosine(fast, exact), 0.999)
        let bad = try Kestrel.run(["embed", "--model", model, "--image", image.path, "--jpeg-decode", "quick"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("jpeg-decode"), bad.stderr)
    }

    func testIndexRecordsFollowsAndRefusesTheOtherSetting() throws {
        let image = try photo()
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        let add = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--jpeg-decode", "exact", image.path])
        XCTAssertEqual(add.status, 0, add.stderr)
        let info = try Kestrel.run(["index", "stats", "--index", index.path, "--json"])
        XCTAssertEqual(try info.jsonLines().first?["jpeg_decode"] as? String, "exact", info.stdout)

        // Left out: the index's setting is followed.
        let follow = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, image.path])
        XCTAssertEqual(follow.status, 0, follow.stderr)

        let other = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--jpeg-decode", "fast", image.path])
        XCTAssertNotEqual(other.status, 0)
        XCTAssertTrue(other.stderr.contains("--jpeg-decode exact"), other.stderr)

        // search --image decodes the query as the index's images were: the stored photo scores 1.
        let r = try Kestrel.run(["search", "--index", index.path, "--image", image.path, "-k", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let score = try XCTUnwrap(try r.jsonLines().first?["score"] as? Double)
        XCTAssertEqual(score, 1, accuracy: 1e-5)
    }
}
