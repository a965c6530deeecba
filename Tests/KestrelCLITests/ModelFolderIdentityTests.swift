import Foundation
import KestrelTestSupport
import XCTest

/// Kind 12: a model is its weights (fingerprint) and its vectors' dimension, not the name of the
/// folder it sits in. A renamed or copied model folder keeps working with `--model NEWDIR`, and
/// a recorded folder that is gone is reported as gone.
final class ModelFolderIdentityTests: XCTestCase {
    func testKind12_RenamedModelFolderStillWorks() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-rename")
        let original = dir.appendingPathComponent("clip-b32"), renamed = dir.appendingPathComponent("clip-b32-renamed")
        try FileManager.default.copyItem(at: Fixtures.repoRoot.appendingPathComponent("Tests/Fixtures/models/hf-tiny"), to: original)
        let index = dir.appendingPathComponent("i")
        let add = try Kestrel.run(["index", "add", "--index", index.path, "--model", original.path, "--quiet", "samples/images/circles"])
        XCTAssertEqual(add.status, 0, add.stderr)
        try FileManager.default.moveItem(at: original, to: renamed)

        let gone = try Kestrel.run(["search", "--index", index.path, "--text", "hi"])
        XCTAssertEqual(gone.status, 64, gone.stderr)
        XCTAssertTrue(gone.stderr.contains("\(original.path), is gone"), gone.stderr)
        XCTAssertTrue(gone.stderr.contains("--model"), gone.stderr)
        XCTAssertFalse(gone.stderr.contains("is not a model folder"), gone.stderr)

        let search = try Kestrel.run(["search", "--index", index.path, "--text", "hi", "--model", renamed.path, "--json"])
        XCTAssertEqual(search.status, 0, search.stderr)
        XCTAssertEqual(try search.jsonLines().count, 4)
        let more = try Kestrel.run(["index", "add", "--index", index.path, "--model", renamed.path, "--quiet", "samples/images/squares"])
        XCTAssertEqual(more.status, 0, more.stderr)
        let stats = try Kestrel.run(["index", "stats", "--index", index.path, "--json"])
        XCTAssertEqual(try stats.jsonLines().first?["model_path"] as? String, renamed.path)
        // The new path is recorded: search needs no --model again.
        XCTAssertEqual(try Kestrel.run(["search", "--index", index.path, "--text", "hi"]).status, 0)

        // A copy of the same weights under another name works too.
        let copy = dir.appendingPathComponent("copy")
        try FileManager.default.copyItem(at: renamed, to: copy)
        XCTAssertEqual(try Kestrel.run(["search", "--index", index.path, "--text", "hi", "--model", copy.path]).status, 0)

        // A recorded folder that no longer holds a model says so.
        try FileManager.default.removeItem(at: renamed.appendingPathComponent("config.json"))
        let broken = try Kestrel.run(["search", "--index", index.path, "--text", "hi"])
        XCTAssertEqual(broken.status, 1, broken.stderr)
        XCTAssertTrue(broken.stderr.hasPrefix("error: "), broken.stderr)
        XCTAssertTrue(broken.stderr.contains("the model folder recorded in this index, \(renamed.path)"), broken.stderr)
        XCTAssertTrue(broken.stderr.contains("--model"), broken.stderr)

        // Other weights are still refused.
        let other = try Kestrel.run(["search", "--index", index.path, "--text", "hi", "--model", "Tests/Fixtures/models/openclip-tiny"])
        XCTAssertNotEqual(other.status, 0, other.stderr)
    }
}
