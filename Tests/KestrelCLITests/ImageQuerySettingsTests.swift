import Foundation
import KestrelTestSupport
import XCTest

/// An image query is embedded as the index's images were: at the index's precision (by default,
/// and an explicit other one is refused), with its JPEG decoding (an explicit other one is
/// refused), as with --orientation. Before this, an int8 index was queried at fp32: a stored
/// image found itself with a score of 0.9998 instead of 1.
final class ImageQuerySettingsTests: XCTestCase {
    let model = "Tests/Fixtures/models/hf-tiny"
    let image = "Tests/Fixtures/images/exif_upright.png"

    func testImageQueryFollowsTheIndexPrecision() throws {
        let info = try Kestrel.run(["info", "--model", model, "--json", "--precision", "int8"])
        guard (try info.jsonLines().first?["precision"] as? String) == "int8" else {
            throw XCTSkip("this processor does not run int8")
        }
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix").path
        let add = try Kestrel.run(["index", "add", "--index", index, "--model", model, "--precision", "int8", "--quiet", image])
        XCTAssertEqual(add.status, 0, add.stderr)
        let s = try Kestrel.run(["search", "--index", index, "--image", image, "-k", "1", "--json"])
        XCTAssertEqual(s.status, 0, s.stderr)
        let score = try XCTUnwrap(try s.jsonLines().first?["score"] as? Double)
        XCTAssertGreaterThan(score, 0.99999, "the stored image must find itself at the index's precision")
        let other = try Kestrel.run(["search", "--index", index, "--image", image, "--precision", "fp32"])
        XCTAssertEqual(other.status, 1, other.stderr)
        XCTAssertTrue(other.stderr.contains("made at --precision int8"), other.stderr)
        // A text query may still be embedded at any precision.
        let text = try Kestrel.run(["search", "--index", index, "--text", "a dog", "--precision", "fp32"])
        XCTAssertEqual(text.status, 0, text.stderr)
    }

    func testAnExplicitOtherJPEGDecodingIsRefusedForImageQueries() throws {
        let jpeg = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: "Tests/Fixtures/images")
            .first { $0.hasSuffix(".jpg") })
        let path = "Tests/Fixtures/images/" + jpeg
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix").path
        let add = try Kestrel.run(["index", "add", "--index", index, "--model", model, "--jpeg-decode", "fast", "--quiet", path])
        XCTAssertEqual(add.status, 0, add.stderr)
        let same = try Kestrel.run(["search", "--index", index, "--image", path, "-k", "1"])
        XCTAssertEqual(same.status, 0, same.stderr)
        let other = try Kestrel.run(["search", "--index", index, "--image", path, "--jpeg-decode", "exact"])
        XCTAssertEqual(other.status, 1, other.stderr)
        XCTAssertTrue(other.stderr.contains("--jpeg-decode fast"), other.stderr)
    }
}
