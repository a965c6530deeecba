import Foundation
import KestrelTestSupport
import XCTest

/// Kind 1 of issue 6 for the folder and file options (`--index`, `--model`, `--vocab`,
/// `--labels-file`). A name is used as the exact bytes given (NFC and NFD spellings are two
/// folders) and must never silently become its U+FFFD spelling (another folder): `--index` and
/// `--labels-file` are carried as bytes end to end; `--model` and `--vocab`, whose readers open
/// files through Foundation by text path, refuse a name that is not UTF-8, naming the option and
/// the escaped bytes.
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

    func testKind1_IndexFolderWithANonUTF8NameWorksEndToEnd() throws {
        let base = Fixtures.temporaryDirectory("kestrel-latin")
        let name = Array("ix".utf8) + [e9]
        let index = RawPaths.join(base, name)
        let escaped = base.path + "/ix\\xe9"
        let circle = Fixtures.repoRoot.appendingPathComponent(image).path
        let square = Fixtures.repoRoot.appendingPathComponent("samples/images/squares/green_square.png").path
        func run(_ args: [String], index option: [UInt8] = Array("--index".utf8)) throws -> CommandResult {
            try Kestrel.run(rawArguments: utf8(args) + [option, index])
        }
        let add = try run(["index", "add", "--model", model, circle, square])
        XCTAssertEqual(add.status, 0, add.stderr)
        XCTAssertTrue(add.stderr.contains("report: \(escaped)/ingest-report.json"), add.stderr)
        XCTAssertEqual(RawPaths.names(in: Array(base.path.utf8)), [name], "the folder has the exact bytes given, no U+FFFD twin")
        XCTAssertEqual(RawPaths.names(in: index).map { String(decoding: $0, as: UTF8.self) }, ["index.faiss", "ingest-report.json", "store"])

        let stats = try run(["index", "stats", "--json"])
        XCTAssertEqual(stats.status, 0, stats.stderr)
        XCTAssertEqual(try stats.jsonLines().first?["items"] as? Int, 2)
        XCTAssertEqual(try stats.jsonLines().first?["indexed"] as? Int, 2)
        let search = try run(["search", "--image", circle, "-k", "1", "--json"])
        XCTAssertEqual(search.status, 0, search.stderr)
        XCTAssertEqual(try search.jsonLines().map { $0["path"] as? String }, [circle])
        XCTAssertGreaterThan(try XCTUnwrap(search.jsonLines().first?["score"] as? Double), 0.99999)
        let text = try run(["search", "--text", "a shape", "--json"])
        XCTAssertEqual(Set(try text.jsonLines().compactMap { $0["path"] as? String }), [circle, square])
        // --index=VALUE, a second add (unchanged), remove, rebuild, list.
        let again = try Kestrel.run(rawArguments: utf8(["index", "add", "--model", model, "--quiet", circle]) + [Array("--index=".utf8) + index])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("unchanged 1"), again.stderr)
        let rm = try run(["index", "remove", square])
        XCTAssertEqual(rm.status, 0, rm.stderr)
        XCTAssertTrue(rm.stderr.contains("removed 1 paths, 1 items"), rm.stderr)
        XCTAssertEqual(try run(["index", "rebuild"]).status, 0)
        let list = try run(["index", "list"])
        XCTAssertEqual(list.lines, ["1\t\(circle)"])
        // Messages name the folder escaped.
        let missing = try run(["search", "--like", "99"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("the index at \(escaped)"), missing.stderr)
        XCTAssertEqual(RawPaths.names(in: Array(base.path.utf8)), [name])
    }

    /// A folder whose name differs from an existing one only where the other is not UTF-8 (its
    /// U+FFFD spelling) is another folder: never mistaken for it.
    func testKind1_TheUTF8SpellingOfAReplacementIsAnotherIndex() throws {
        let base = Fixtures.temporaryDirectory("kestrel-latin")
        let latin = RawPaths.join(base, Array("ix".utf8) + [e9])
        let add = try Kestrel.run(rawArguments: utf8(["index", "add", "--model", model, "--quiet", image, "--index"]) + [latin])
        XCTAssertEqual(add.status, 0, add.stderr)
        let replaced = base.path + "/ix\u{FFFD}"
        let stats = try Kestrel.run(["index", "stats", "--index", replaced])
        XCTAssertEqual(stats.status, 1)
        XCTAssertTrue(stats.stderr.contains("holds no Kestrel index"), stats.stderr)
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
