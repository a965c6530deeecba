import Foundation
import KestrelTestSupport
import XCTest

/// Kind 12 of issue 6: messages say what is wrong in the user's words: what a path is (a
/// regular file, a FIFO, a device) where something else was needed, no Foundation or Swift
/// internals, no path twice, and a usage error shows the usage of the command that was run.
final class MessageWordingTests: XCTestCase {
    let model = "Tests/Fixtures/models/hf-tiny"
    let image = "samples/images/circles/blue_circle.png"

    func assertClean(_ r: CommandResult, file: StaticString = #filePath, line: UInt = #line) {
        for bad in ["NSCocoaErrorDomain", "Error Domain", "Code=", "[\"", "[:]", "Usage: kestrel <subcommand>"] {
            XCTAssertFalse(r.stderr.contains(bad), "\(bad) in: \(r.stderr)", file: file, line: line)
        }
    }

    func testKind12_IndexOptionThatIsAFileOrFIFOSaysWhatItIs() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-words")
        let file = dir.appendingPathComponent("afile")
        try Data().write(to: file)
        let fifo = dir.appendingPathComponent("fifo")
        try RawPaths.makeFIFO(Array(fifo.path.utf8))
        for (path, words) in [(file.path, "is a regular file, not a folder"), (fifo.path, "is a FIFO, not a folder")] {
            let r = try Kestrel.run(["index", "add", "--index", path, "--model", model, "--quiet", image])
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertEqual(r.stderr, "error: \(path): \(words)\n")
            assertClean(r)
        }
        let empty = try Kestrel.run(["index", "stats", "--index", ""])
        XCTAssertEqual(empty.status, 64, empty.stderr)
        XCTAssertTrue(empty.stderr.hasPrefix("Error: --index needs a folder name"), empty.stderr)
        let noModel = try Kestrel.run(["embed", "--model", "", "--text", "hi"])
        XCTAssertEqual(noModel.status, 64, noModel.stderr)
        XCTAssertTrue(noModel.stderr.hasPrefix("Error: --model needs a folder name"), noModel.stderr)
    }

    func testKind12_StoreFolderThatIsAFileOrHasNoDataSaysSo() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-words")
        let index = dir.appendingPathComponent("ix")
        XCTAssertEqual(try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", image]).status, 0)
        let store = index.appendingPathComponent("store")
        try FileManager.default.removeItem(at: store.appendingPathComponent("data.mdb"))
        for args in [["index", "stats", "--index", index.path], ["index", "add", "--index", index.path, "--model", model, "--quiet", image]] {
            let r = try Kestrel.run(args)
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("error: \(store.path) holds no data.mdb"), r.stderr)
        }
        try FileManager.default.removeItem(at: store)
        try Data("x".utf8).write(to: store)
        for args in [["index", "stats", "--index", index.path], ["index", "add", "--index", index.path, "--model", model, "--quiet", image]] {
            let r = try Kestrel.run(args)
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("error: \(store.path) is a regular file, not a store folder"), r.stderr)
            assertClean(r)
        }
        XCTAssertEqual(try Data(contentsOf: store), Data("x".utf8), "nothing was changed")
    }

    func testKind12_IndexFileThatIsAFolderOrDeviceIsNamedForWhatItIs() throws {
        let index = Fixtures.temporaryDirectory("kestrel-words").appendingPathComponent("ix")
        XCTAssertEqual(try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", image]).status, 0)
        let faiss = index.appendingPathComponent("index.faiss")
        try FileManager.default.removeItem(at: faiss)
        try FileManager.default.createSymbolicLink(atPath: faiss.path, withDestinationPath: "/dev/zero")
        let r = try Kestrel.run(["index", "stats", "--index", index.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "warning: \(faiss.path) is a character device, not an index file; rebuilding the index from the store\n")
    }

    func testKind12_VocabAndLabelsFileThatAreNotFilesSayWhatTheyAre() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-words")
        let fifo = dir.appendingPathComponent("fifo")
        try RawPaths.makeFIFO(Array(fifo.path.utf8))
        for path in [fifo.path, "/dev/zero"] {
            let r = try Kestrel.run(["tokenize", "--vocab", path], stdin: "{\"text\": \"hi\"}\n")
            XCTAssertEqual(r.status, 64, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("Error: --vocab \(path): is a \(path == "/dev/zero" ? "character device" : "FIFO"), not a regular file"), r.stderr)
            XCTAssertFalse(r.stderr.contains("missing"), r.stderr)
        }
        let labels = try Kestrel.run(["label", "--model", model, "--labels-file", dir.path, image])
        XCTAssertEqual(labels.status, 64, labels.stderr)
        XCTAssertTrue(labels.stderr.hasPrefix("Error: --labels-file \(dir.path): is a directory, not a regular file\n"), labels.stderr)
        XCTAssertTrue(labels.stderr.contains("Usage: kestrel label "), "the label command's usage: \(labels.stderr)")
        assertClean(labels)
    }

    func testKind12_RepeatedClassNamesArePlainWords() throws {
        let r = try Kestrel.run(["label", "--model", model, "--labels", "x,y,x,x", image])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("Error: --labels: each class name must be given once; repeated: x (3 times)\n"), r.stderr)
        XCTAssertTrue(r.stderr.contains("Usage: kestrel label "), r.stderr)
        assertClean(r)
    }

    func testKind12_NegativeNumbersReachValidation() throws {
        for (args, words) in [(["search", "--index", "nowhere", "--text", "hi", "-k", "-1"], "-k must be at least 1, got -1"),
                              (["search", "--index", "nowhere", "--like", "-5"], "--like takes the id of a stored item"),
                              (["embed", "--model", model, "--text", "hi", "--pixel-limit", "-1"], "--pixel-limit must be at least 1, got -1")] {
            let r = try Kestrel.run(args)
            XCTAssertEqual(r.status, 64, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("Error: \(words)"), r.stderr)
            XCTAssertFalse(r.stderr.contains("Missing value"), r.stderr)
        }
    }

    func testKind12_TextThatIsNotUTF8IsRefusedNamingTheOption() throws {
        let r = try Kestrel.run(rawArguments: [Array("embed".utf8), Array("--model".utf8), Array(model.utf8),
                                                Array("--text".utf8), [0x63, 0x61, 0x66, 0xE9]])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("Error: --text \"caf\\xe9\": the text is not valid UTF-8"), r.stderr)
        XCTAssertEqual(r.stdout, "")
    }
}
