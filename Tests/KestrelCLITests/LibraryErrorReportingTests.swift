import Foundation
import KestrelTestSupport
import XCTest

/// A library error in any command (here: a model folder whose config.json is not JSON) is one
/// `error:` line naming the file, with exit status 1: not ArgumentParser's `Error:` line.
final class LibraryErrorReportingTests: XCTestCase {
    /// A copy of the tiny HF model whose config.json is broken.
    func brokenModel() throws -> URL {
        let dir = Fixtures.temporaryDirectory().appendingPathComponent("broken-model")
        try FileManager.default.copyItem(at: Fixtures.url("models/hf-tiny"), to: dir)
        try Data("{\"projection_dim\": 32, oops".utf8).write(to: dir.appendingPathComponent("config.json"))
        return dir
    }

    func assertReported(_ r: CommandResult, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 1, "\(what): exit status; stderr: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("error: "), "\(what): stderr: \(r.stderr)", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Error:"), "\(what): stderr: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains("config.json"), "\(what): the message names the file: \(r.stderr)", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Usage:"), "\(what): stderr: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(what): one line: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stdout, "", "\(what): stdout", file: file, line: line)
    }

    func testABrokenModelConfigIsAnErrorLineWithStatus1InEveryModelCommand() throws {
        let model = try brokenModel().path
        let image = Fixtures.url("images/exif_jpeg_o1.jpg").path
        let index = Fixtures.temporaryDirectory().appendingPathComponent("idx").path
        assertReported(try Kestrel.run(["embed", "--model", model, "--text", "a cat"]), "embed --text")
        assertReported(try Kestrel.run(["embed", "--model", model, "--image", image]), "embed --image")
        assertReported(try Kestrel.run(["label", "--model", model, "--labels", "cat,dog", image]), "label")
        assertReported(try Kestrel.run(["index", "add", "--index", index, "--model", model, "--quiet", image]), "index add")
        assertReported(try Kestrel.run(["info", "--model", model]), "info")
        assertReported(try Kestrel.run(["info", "--model", model, "--json"]), "info --json")
        assertReported(try Kestrel.run(["tokenize", "--model", model], stdin: "{\"text\": \"a cat\"}\n"), "tokenize --model")
    }

    func testSearchWithABrokenModelIsAnErrorLineWithStatus1() throws {
        // An index built with a good model, whose folder is broken afterwards.
        let model = Fixtures.temporaryDirectory().appendingPathComponent("model")
        try FileManager.default.copyItem(at: Fixtures.url("models/hf-tiny"), to: model)
        let index = Fixtures.temporaryDirectory().appendingPathComponent("idx").path
        let add = try Kestrel.run(["index", "add", "--index", index, "--model", model.path, "--quiet",
                                   Fixtures.url("images/exif_jpeg_o1.jpg").path])
        XCTAssertEqual(add.status, 0, add.stderr)
        try Data("not json".utf8).write(to: model.appendingPathComponent("config.json"))
        assertReported(try Kestrel.run(["search", "--index", index, "--text", "a cat"]), "search --text (recorded model)")
        assertReported(try Kestrel.run(["search", "--index", index, "--text", "a cat", "--model", try brokenModel().path]),
                       "search --text --model")
    }

    /// Messages name options a user can pass, not Swift types.
    func testThePixelLimitMessageNamesTheOption() throws {
        let r = try Kestrel.run(["embed", "--model", Fixtures.url("models/hf-tiny").path, "--pixel-limit", "100",
                                 "--image", Fixtures.url("images/exif_jpeg_o1.jpg").path])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("error: "), r.stderr)
        XCTAssertTrue(r.stderr.contains("exceeds the limit of 100"), r.stderr)
        XCTAssertTrue(r.stderr.contains("pass --pixel-limit "), r.stderr)
        XCTAssertFalse(r.stderr.contains("ImageDecoder") || r.stderr.contains("pixelLimit"), r.stderr)
    }
}
