import Foundation
import KestrelTestSupport
import XCTest

/// Kind 8 of issue 6: exit statuses agree across commands (README: 0 success, 1 some input
/// failed, 64 usage error). A path that is missing, not an image, or cannot be walked is one
/// failed input: it is listed once, the rest is processed, and the exit status is 1.
final class ExitStatusAgreementTests: XCTestCase {
    let model = "Tests/Fixtures/models/hf-tiny"
    let good = Fixtures.repoRoot.appendingPathComponent("samples/images/circles/blue_circle.png").path

    func items(_ index: String) throws -> Int? {
        try Kestrel.run(["index", "stats", "--index", index, "--json"]).jsonLines().first?["items"] as? Int
    }

    func errorLines(_ r: CommandResult) -> [String] { r.stderr.split(separator: "\n").map(String.init).filter { $0.hasPrefix("error:") } }

    func testKind8_IndexAddOfAMissingPathAddsTheRestAndExitsOne() throws {
        let index = Fixtures.temporaryDirectory("kestrel-exit").appendingPathComponent("ix").path
        let r = try Kestrel.run(["index", "add", "--index", index, "--model", model, "--quiet", "/nonexistent-kestrel", good])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(try items(index), 1, "the good image is stored")
        XCTAssertEqual(errorLines(r), ["error: /nonexistent-kestrel: no such file or folder"], r.stderr)
    }

    func testKind8_AnExplicitNonImageIsAFailedInputForIndexAddAndLabel() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-exit")
        let notes = dir.appendingPathComponent("notes.txt")
        try Data("not an image\n".utf8).write(to: notes)
        let index = dir.appendingPathComponent("ix").path
        let add = try Kestrel.run(["index", "add", "--index", index, "--model", model, "--quiet", notes.path, good])
        XCTAssertEqual(add.status, 1, add.stderr)
        XCTAssertEqual(try items(index), 1)
        XCTAssertEqual(errorLines(add), ["error: \(notes.path): not a JPEG or PNG image"], add.stderr)
        let label = try Kestrel.run(["label", "--model", model, "--labels", "a,b", notes.path, good])
        XCTAssertEqual(label.status, 1, label.stderr)
        XCTAssertEqual(label.lines.count, 1, "the good image is labelled: \(label.stdout)")
        XCTAssertEqual(errorLines(label), ["error: \(notes.path): not a JPEG or PNG image"], label.stderr)
        // Inside a folder, a file that is not an image is still skipped silently.
        let folder = dir.appendingPathComponent("mixed")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: notes, to: folder.appendingPathComponent("notes.txt"))
        try FileManager.default.copyItem(atPath: good, toPath: folder.appendingPathComponent("a.png").path)
        let walked = try Kestrel.run(["index", "add", "--index", dir.appendingPathComponent("iy").path, "--model", model, "--quiet", folder.path])
        XCTAssertEqual(walked.status, 0, walked.stderr)
        XCTAssertEqual(errorLines(walked), [], walked.stderr)
    }

    func testKind8_AFolderThatCannotBeWalkedIsAFailedInput() throws {
        // A path longer than PATH_MAX (4096) met in a walk: what it holds cannot be looked at.
        let dir = Fixtures.temporaryDirectory("kestrel-exit")
        let top = dir.appendingPathComponent("top")
        try FileManager.default.createDirectory(at: top, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: good, toPath: top.appendingPathComponent("a.png").path)
        // Folders made relative to each other (openat), as no single path can name the deepest.
        var fd = open(top.path, O_RDONLY | O_DIRECTORY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        for _ in 0..<22 {
            XCTAssertEqual(mkdirat(fd, String(repeating: "d", count: 200), 0o755), 0)
            let next = openat(fd, String(repeating: "d", count: 200), O_RDONLY | O_DIRECTORY)
            close(fd)
            fd = next
        }
        let png = try [UInt8](Data(contentsOf: URL(fileURLWithPath: good)))
        let out = openat(fd, "deep.png", O_WRONLY | O_CREAT, 0o644)
        XCTAssertEqual(png.withUnsafeBytes { write(out, $0.baseAddress, $0.count) }, png.count)
        close(out)
        close(fd)
        let index = dir.appendingPathComponent("ix").path
        let r = try Kestrel.run(["index", "add", "--index", index, "--model", model, "--quiet", dir.appendingPathComponent("top").path])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(try items(index), 1, "the image that could be reached is stored")
        XCTAssertEqual(errorLines(r).count, 1, r.stderr)
        XCTAssertTrue(errorLines(r).first?.contains("name too long") == true, r.stderr)
        XCTAssertFalse(r.stderr.contains("warning:"), r.stderr)
        let label = try Kestrel.run(["label", "--model", model, "--labels", "a,b", dir.appendingPathComponent("top").path])
        XCTAssertEqual(label.status, 1, label.stderr)
        XCTAssertEqual(label.lines.count, 1, label.stdout)
    }

    func testKind8_IndexRemoveOfAPathNotStoredSaysSoAndExitsOne() throws {
        let index = Fixtures.temporaryDirectory("kestrel-exit").appendingPathComponent("ix").path
        XCTAssertEqual(try Kestrel.run(["index", "add", "--index", index, "--model", model, "--quiet", "samples/images/circles"]).status, 0)
        let stored = try Kestrel.run(["index", "list", "--index", index]).lines.count
        let r = try Kestrel.run(["index", "remove", "--index", index, "/not/stored.png", good])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(errorLines(r), ["error: not in the index: /not/stored.png"], r.stderr)
        XCTAssertTrue(r.stderr.contains("removed 1 paths, 1 items"), r.stderr)
        XCTAssertEqual(try Kestrel.run(["index", "list", "--index", index]).lines.count, stored - 1)
        let all = try Kestrel.run(["index", "remove", "--index", index, Fixtures.repoRoot.appendingPathComponent("samples/images/circles").path])
        XCTAssertEqual(all.status, 0, all.stderr)
    }
}
