import Foundation
import KestrelTestSupport
import XCTest

/// Kind 1 of issue 6 for the folder and file options (`--index`, `--model`, `--vocab`,
/// `--labels-file`). A UTF-8 name is used as the exact bytes given (NFC and NFD spellings are two
/// folders). A name that is not UTF-8 must never silently become its U+FFFD spelling (another
/// folder): `--labels-file` reads the exact bytes; the folder options and `--vocab`, whose lower
/// layers (Foundation's URL, LMDB, FAISS, the model readers) take text paths, refuse such a name,
/// naming the option and the escaped bytes, and create nothing.
final class FolderPathsAreBytesTests: XCTestCase {
    let model = "Tests/Fixtures/models/hf-tiny"
    let image = "samples/images/circles/red_circle.png"
    let e9: UInt8 = 0xE9  // Latin-1 é

    func utf8(_ strings: [String]) -> [[UInt8]] { strings.map { Array($0.utf8) } }

    func assertRefused(_ r: CommandResult, option: String, escaped: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains("\(option) \(escaped): the name is not valid UTF-8"), r.stderr, file: file, line: line)
        XCTAssertEqual(r.stdout, "", file: file, line: line)
    }

    func testKind1_IndexFolderWithANonUTF8NameIsRefusedNeverReplaced() throws {
        let base = Fixtures.temporaryDirectory("kestrel-latin")
        let index = RawPaths.join(base, Array("ix".utf8) + [e9])
        let escaped = base.path + "/ix\\xe9"
        let add = try Kestrel.run(rawArguments: utf8(["index", "add", "--model", model, "--quiet", image, "--index"]) + [index])
        assertRefused(add, option: "--index", escaped: escaped)
        XCTAssertEqual(RawPaths.names(in: Array(base.path.utf8)), [], "no folder may be created, under either spelling")
        let eq = try Kestrel.run(rawArguments: utf8(["index", "add", "--model", model, "--quiet", image]) + [Array("--index=".utf8) + index])
        assertRefused(eq, option: "--index", escaped: escaped)
        XCTAssertEqual(RawPaths.names(in: Array(base.path.utf8)), [])

        // A folder that exists under that name is refused too, never mistaken for its U+FFFD twin.
        try RawPaths.makeDirectory(index)
        for command in [["index", "stats"], ["index", "list"], ["index", "rebuild"], ["search", "--text", "a circle"]] {
            assertRefused(try Kestrel.run(rawArguments: utf8(command + ["--index"]) + [index]), option: "--index", escaped: escaped)
        }
        assertRefused(try Kestrel.run(rawArguments: utf8(["index", "remove", image, "--index"]) + [index]), option: "--index", escaped: escaped)
        XCTAssertEqual(RawPaths.names(in: index), [], "nothing written inside it")
        XCTAssertEqual(RawPaths.names(in: Array(base.path.utf8)), [Array("ix".utf8) + [e9]])
    }

    func testKind1_ModelFolderAndVocabWithNonUTF8NamesAreRefusedNeverReplaced() throws {
        let base = Fixtures.temporaryDirectory("kestrel-latin")
        let folder = RawPaths.join(base, Array("m".utf8) + [e9])
        try RawPaths.makeDirectory(folder)
        let source = Fixtures.repoRoot.appendingPathComponent(model)
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) {
            try RawPaths.write(try Data(contentsOf: source.appendingPathComponent(name)), to: folder + [0x2F] + Array(name.utf8))
        }
        let escaped = base.path + "/m\\xe9"
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        let commands: [[String]] = [
            ["embed", "--text", "a circle"], ["info"], ["label", "--labels", "circle,square", image],
            ["index", "add", "--index", index.path, "--quiet", image], ["tokenize"],
        ]
        for command in commands {
            assertRefused(try Kestrel.run(rawArguments: utf8(command + ["--model"]) + [folder]), option: "--model", escaped: escaped)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: index.path), "index add stopped before creating anything")
        // search --model: the index exists (made with the model's UTF-8 path).
        XCTAssertEqual(try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", image]).status, 0)
        assertRefused(try Kestrel.run(rawArguments: utf8(["search", "--index", index.path, "--text", "a circle", "--model"]) + [folder]),
                      option: "--model", escaped: escaped)

        let vocab = RawPaths.join(base, Array("v".utf8) + [e9] + Array(".txt.gz".utf8))
        try RawPaths.write(try Data(contentsOf: Fixtures.repoRoot.appendingPathComponent("Vocab/bpe_simple_vocab_16e6.txt.gz")), to: vocab)
        assertRefused(try Kestrel.run(rawArguments: utf8(["tokenize", "--vocab"]) + [vocab]), option: "--vocab", escaped: base.path + "/v\\xe9.txt.gz")
    }

    func testKind1_LabelsFileWithANonUTF8NameIsRead() throws {
        let base = Fixtures.temporaryDirectory("kestrel-latin")
        let labels = RawPaths.join(base, Array("classes".utf8) + [e9] + Array(".txt".utf8))
        try RawPaths.write(Data("circle\nsquare\n".utf8), to: labels)
        let r = try Kestrel.run(rawArguments: utf8(["label", "--model", model, "--json", image, "--labels-file"]) + [labels])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try r.jsonLines()
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(Set((rows.first?["scores"] as? [String: Double] ?? [:]).keys), ["circle", "square"])
        // A missing one is named with its exact bytes, escaped.
        let missing = RawPaths.join(base, Array("gone".utf8) + [e9])
        let m = try Kestrel.run(rawArguments: utf8(["label", "--model", model, image, "--labels-file"]) + [missing])
        XCTAssertNotEqual(m.status, 0)
        XCTAssertTrue(m.stderr.contains(base.path + "/gone\\xe9"), m.stderr)
    }

    func testKind1_IndexFoldersSpelledNFCAndNFDAreTwoIndexes() throws {
        let base = Fixtures.temporaryDirectory("kestrel-nf")
        let nfc = base.path + "/caf\u{E9}", nfd = base.path + "/cafe\u{301}"
        let circle = Fixtures.repoRoot.appendingPathComponent(image).path
        let square = Fixtures.repoRoot.appendingPathComponent("samples/images/squares/green_square.png").path
        for (index, file) in [(nfc, circle), (nfd, square)] {
            let add = try Kestrel.run(rawArguments: utf8(["index", "add", "--index", index, "--model", model, "--quiet", file]))
            XCTAssertEqual(add.status, 0, add.stderr)
        }
        XCTAssertEqual(RawPaths.names(in: Array(base.path.utf8)), [Array("caf\u{E9}".utf8), Array("cafe\u{301}".utf8)].sorted { $0.lexicographicallyPrecedes($1) })
        for (index, file) in [(nfc, circle), (nfd, square)] {
            let list = try Kestrel.run(rawArguments: utf8(["index", "list", "--index", index, "--json"]))
            XCTAssertEqual(list.status, 0, list.stderr)
            XCTAssertEqual(try list.jsonLines().map { $0["path"] as? String }, [file], "index \(Array(index.utf8).suffix(6))")
            let stats = try Kestrel.run(rawArguments: utf8(["index", "stats", "--index", index, "--json"]))
            XCTAssertEqual(try stats.jsonLines().first?["items"] as? Int, 1)
            let search = try Kestrel.run(rawArguments: utf8(["search", "--index", index, "--text", "a shape", "--json"]))
            XCTAssertEqual(try search.jsonLines().map { $0["path"] as? String }, [file])
        }
    }
}
