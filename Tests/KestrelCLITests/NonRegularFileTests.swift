import Foundation
import KestrelTestSupport
import XCTest

/// Kind 12 of issue 6 (images): a FIFO, a folder named like an image, a character device or a
/// huge file given as an image says what it is, and is never read forever.
final class NonRegularFileTests: XCTestCase {
    let model = "Tests/Fixtures/models/hf-tiny"

    /// A folder with a FIFO `pipe.jpg`, a folder `folder.jpg`, and a sparse 600 MiB `huge.jpg`.
    func oddFiles() throws -> (dir: URL, fifo: String, folder: String, huge: String) {
        let dir = Fixtures.temporaryDirectory("kestrel-odd")
        let fifo = dir.appendingPathComponent("pipe.jpg").path
        try RawPaths.makeFIFO(Array(fifo.utf8))
        let folder = dir.appendingPathComponent("folder.jpg").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let huge = dir.appendingPathComponent("huge.jpg").path
        FileManager.default.createFile(atPath: huge, contents: Data([0xFF, 0xD8, 0xFF]))
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: huge))
        try h.truncate(atOffset: 600 << 20)   // sparse: no disk space used
        try h.close()
        return (dir, fifo, folder, huge)
    }

    func run(_ args: [String]) throws -> CommandResult {
        try Kestrel.run(rawArguments: args.map { Array($0.utf8) })   // under `timeout`: a hang fails
    }

    func testKind12_EmbedSaysWhatANonRegularFileIs() throws {
        let odd = try oddFiles()
        let cases = [(odd.fifo, "is a FIFO, not a regular file"), (odd.folder, "is a directory"),
                     ("/dev/zero", "is a character device"), (odd.huge, "larger than the limit")]
        for (path, says) in cases {
            let r = try run(["embed", "--model", model, "--text", "a cat", "--image", path])
            XCTAssertEqual(r.status, 1, "\(path): \(r.stderr)")
            XCTAssertEqual(r.lines.count, 1, "the text is still embedded")
            XCTAssertTrue(r.stderr.contains(path) && r.stderr.contains(says), "\(path): \(r.stderr)")
        }
    }

    func testKind12_SearchByImageSaysWhatANonRegularFileIs() throws {
        let odd = try oddFiles()
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        XCTAssertEqual(try run(["index", "add", "--index", index.path, "--model", model, "--quiet", "samples/images/circles"]).status, 0)
        for (path, says) in [(odd.fifo, "is a FIFO, not a regular file"), (odd.folder, "is a directory"), ("/dev/zero", "is a character device")] {
            let r = try run(["search", "--index", index.path, "--image", path])
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(says), "\(path): \(r.stderr)")
        }
    }

    func testKind12_LabelAndWalksReportNonRegularFiles() throws {
        let odd = try oddFiles()
        try FileManager.default.copyItem(at: Fixtures.repoRoot.appendingPathComponent("samples/images/circles/red_circle.png"),
                                         to: odd.dir.appendingPathComponent("good.png"))
        // Given by name to label: each one fails with what it is; the good file is labelled.
        let named = try run(["label", "--model", model, "--labels", "circle,square", odd.fifo, "/dev/zero", odd.dir.appendingPathComponent("good.png").path])
        XCTAssertEqual(named.status, 1, named.stderr)
        XCTAssertEqual(named.lines.count, 1, named.stdout)
        XCTAssertTrue(named.stderr.contains("is a FIFO, not a regular file") && named.stderr.contains("is a character device"), named.stderr)
        // Met during a walk: the FIFO named like an image is skipped with a reason, the huge file fails.
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        let add = try run(["index", "add", "--index", index.path, "--model", model, "--quiet", odd.dir.path])
        XCTAssertEqual(add.status, 1, add.stderr)
        XCTAssertTrue(add.stderr.contains("pipe.jpg: is a FIFO, not a regular file"), add.stderr)
        XCTAssertTrue(add.stderr.contains("huge.jpg") && add.stderr.contains("larger than the limit"), add.stderr)
        let stats = try run(["index", "stats", "--index", index.path, "--json"]).jsonLines().first
        XCTAssertEqual(stats?["items"] as? Int, 1)
    }
}
