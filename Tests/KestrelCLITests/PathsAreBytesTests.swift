import Foundation
import KestrelTestSupport
import XCTest

/// Kind 1 of issue 6: file names are bytes. NFC and NFD spellings of one text are two files,
/// names need not be UTF-8, and plain output escapes control characters in names.
final class PathsAreBytesTests: XCTestCase {
    let model = "Tests/Fixtures/models/hf-tiny"
    let nfc = Array("caf\u{E9}.png".utf8)        // 63 61 66 C3 A9 ...
    let nfd = Array("cafe\u{301}.png".utf8)      // 63 61 66 65 CC 81 ...
    let latin1: [UInt8] = [0x63, 0x61, 0x66, 0xE9] + Array(".png".utf8)  // "café" in Latin-1

    func sample(_ name: String, tail: String = "") throws -> Data {
        var d = try Data(contentsOf: Fixtures.repoRoot.appendingPathComponent("samples/images/\(name)"))
        d.append(Data(tail.utf8))   // decoders ignore bytes after the end marker: other content, same picture
        return d
    }

    func kestrel(_ args: [String]) throws -> CommandResult { try Kestrel.run(args) }

    /// `index list --json` rows as (id, exact path bytes).
    func listed(_ index: URL) throws -> [(id: Int, path: [UInt8])] {
        let r = try kestrel(["index", "list", "--index", index.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try r.jsonLines().map { row in
            let bytes = (row["path_bytes"] as? String).flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) }
            return (row["id"] as! Int, bytes ?? Array((row["path"] as! String).utf8))
        }
    }

    func stats(_ index: URL) throws -> [String: Any] {
        let r = try kestrel(["index", "stats", "--index", index.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try r.jsonLines().first ?? [:]
    }

    func testKind1_PruneKeepsTheNFCFileWhenItsNFDTwinIsDeleted() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-nf")
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        let image = try sample("circles/red_circle.png")
        try RawPaths.write(image, to: RawPaths.join(dir, nfc))
        try RawPaths.write(image, to: RawPaths.join(dir, nfd))
        XCTAssertEqual(try kestrel(["index", "add", "--index", index.path, "--model", model, "--quiet", dir.path]).status, 0)
        XCTAssertEqual(try stats(index)["paths"] as? Int, 2)
        XCTAssertEqual(try stats(index)["items"] as? Int, 1)

        try RawPaths.remove(RawPaths.join(dir, nfd))
        let prune = try kestrel(["index", "add", "--index", index.path, "--model", model, "--quiet", "--prune", dir.path])
        XCTAssertEqual(prune.status, 0, prune.stderr)
        let s = try stats(index)
        XCTAssertEqual(s["items"] as? Int, 1, "the item must stay: its NFC file still exists")
        XCTAssertEqual(s["paths"] as? Int, 1)
        XCTAssertEqual(s["indexed"] as? Int, 1)
        XCTAssertEqual(try listed(index).map(\.path), [RawPaths.join(dir, nfc)])
        // The store stays usable: another add of the folder finds the file unchanged.
        let again = try kestrel(["index", "add", "--index", index.path, "--model", model, "--quiet", dir.path])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("unchanged 1"), again.stderr)
    }

    func testKind1_RemoveOfOneSpellingRemovesOnlyThatFile() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-nf")
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        try RawPaths.write(try sample("circles/red_circle.png"), to: RawPaths.join(dir, nfc))
        try RawPaths.write(try sample("squares/green_square.png"), to: RawPaths.join(dir, nfd))
        XCTAssertEqual(try kestrel(["index", "add", "--index", index.path, "--model", model, "--quiet", dir.path]).status, 0)
        XCTAssertEqual(try stats(index)["items"] as? Int, 2)

        let rm = try Kestrel.run(rawArguments: [Array("index".utf8), Array("remove".utf8), Array("--index".utf8),
                                                Array(index.path.utf8), RawPaths.join(dir, nfd)])
        XCTAssertEqual(rm.status, 0, rm.stderr)
        XCTAssertTrue(rm.stderr.contains("removed 1 paths, 1 items"), rm.stderr)
        XCTAssertEqual(try listed(index).map(\.path), [RawPaths.join(dir, nfc)])
        XCTAssertEqual(try stats(index)["indexed"] as? Int, 1)
    }

    func testKind1_SearchPrefixWithOneSpellingReturnsOnlyThatSpelling() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-nf")
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        try RawPaths.write(try sample("circles/red_circle.png"), to: RawPaths.join(dir, nfc))
        try RawPaths.write(try sample("squares/green_square.png"), to: RawPaths.join(dir, nfd))
        XCTAssertEqual(try kestrel(["index", "add", "--index", index.path, "--model", model, "--quiet", dir.path]).status, 0)
        for (spelling, prefix) in [(nfc, "caf\u{E9}"), (nfd, "cafe\u{301}")] {
            let r = try Kestrel.run(rawArguments: ["search", "--index", index.path, "--text", "a shape", "-k", "5", "--json",
                                                   "--prefix", dir.path + "/" + prefix].map { Array($0.utf8) })
            XCTAssertEqual(r.status, 0, r.stderr)
            let rows = try r.jsonLines()
            XCTAssertEqual(rows.count, 1, "prefix \(Array(prefix.utf8)): \(r.stdout)")
            XCTAssertEqual(rows.first.map { Array(($0["path"] as! String).utf8) }, RawPaths.join(dir, spelling))
        }
    }

    func testKind1_Latin1NameIsEmbeddedIndexedListedAndLabelled() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-latin1")
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        let path = RawPaths.join(dir, latin1)
        try RawPaths.write(try sample("circles/red_circle.png"), to: path)
        let escaped = dir.path + "/caf\\xe9.png"

        // embed: a JSON line whose `input_bytes` is the exact name in base64.
        let embed = try Kestrel.run(rawArguments: [Array("embed".utf8), Array("--model".utf8), Array(model.utf8), Array("--image".utf8), path])
        XCTAssertEqual(embed.status, 0, embed.stderr)
        let row = try XCTUnwrap(try embed.jsonLines().first)
        XCTAssertEqual(row["input"] as? String, dir.path + "/caf\u{FFFD}.png")
        XCTAssertEqual((row["input_bytes"] as? String).flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) }, path)
        XCTAssertEqual((row["embedding"] as? [NSNumber])?.count, 16)

        // index add of the folder, then list: plain escapes the byte, JSON carries the bytes.
        let add = try kestrel(["index", "add", "--index", index.path, "--model", model, "--quiet", dir.path])
        XCTAssertEqual(add.status, 0, add.stderr)
        XCTAssertEqual(try stats(index)["items"] as? Int, 1)
        XCTAssertEqual(try listed(index).map(\.path), [path])
        let plain = try kestrel(["index", "list", "--index", index.path])
        XCTAssertEqual(plain.lines, ["1\t" + escaped])
        // Adding the file by its own name finds it stored already.
        let byName = try Kestrel.run(rawArguments: ["index", "add", "--index", index.path, "--model", model].map { Array($0.utf8) } + [path])
        XCTAssertEqual(byName.status, 0, byName.stderr)
        XCTAssertTrue(byName.stderr.contains("unchanged 1"), byName.stderr)

        // label: plain, JSON and CSV.
        let label = try Kestrel.run(rawArguments: ["label", "--model", model, "--labels", "circle,square"].map { Array($0.utf8) } + [path])
        XCTAssertEqual(label.status, 0, label.stderr)
        XCTAssertEqual(label.lines.count, 1)
        XCTAssertTrue(label.lines[0].hasPrefix(escaped + "\t"), label.stdout)
        let json = try Kestrel.run(rawArguments: ["label", "--model", model, "--labels", "circle,square", "--json"].map { Array($0.utf8) } + [path])
        XCTAssertEqual(json.status, 0, json.stderr)
        XCTAssertEqual((try json.jsonLines().first?["path_bytes"] as? String).flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) }, path)
        let csv = try Kestrel.run(rawArguments: ["label", "--model", model, "--labels", "circle,square", "--csv"].map { Array($0.utf8) } + [path])
        XCTAssertEqual(csv.status, 0, csv.stderr)
        let csvRow = csv.stdoutBytes.split(separator: 0x0A).dropFirst().first.map(Array.init) ?? []
        XCTAssertEqual(Array(csvRow.prefix(path.count + 1)), path + [0x2C], "CSV holds the exact bytes")

        // search --prefix with the raw bytes, and remove by the raw name.
        let search = try Kestrel.run(rawArguments: ["search", "--index", index.path, "--text", "a circle", "--json", "--prefix"].map { Array($0.utf8) } + [path])
        XCTAssertEqual(search.status, 0, search.stderr)
        XCTAssertEqual(try search.jsonLines().count, 1)
        let rm = try Kestrel.run(rawArguments: ["index", "remove", "--index", index.path].map { Array($0.utf8) } + [path])
        XCTAssertEqual(rm.status, 0, rm.stderr)
        XCTAssertTrue(rm.stderr.contains("removed 1 paths, 1 items"), rm.stderr)
    }

    func testKind1_ControlCharactersInNamesAreEscapedInPlainOutput() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-ctl")
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        let names: [(raw: String, escaped: String)] = [
            ("new\nline.png", "new\\nline.png"), ("tab\there.png", "tab\\there.png"), ("esc\u{1B}[31m.png", "esc\\x1b[31m.png"),
        ]
        for (i, n) in names.enumerated() {
            try RawPaths.write(try sample("circles/red_circle.png", tail: "\(i)"), to: RawPaths.join(dir, Array(n.raw.utf8)))
        }
        let add = try kestrel(["index", "add", "--index", index.path, "--model", model, "--quiet", dir.path])
        XCTAssertEqual(add.status, 0, add.stderr)
        let list = try kestrel(["index", "list", "--index", index.path])
        XCTAssertEqual(list.status, 0, list.stderr)
        let shown = list.lines.map { $0.split(separator: "\t", maxSplits: 1).last.map(String.init) ?? "" }
        XCTAssertEqual(Set(shown), Set(names.map { dir.path + "/" + $0.escaped }), list.stdout)
        XCTAssertFalse(list.stdoutBytes.contains(0x1B), "raw ESC in plain output")

        let search = try kestrel(["search", "--index", index.path, "--text", "a circle", "-k", "3"])
        XCTAssertEqual(search.status, 0, search.stderr)
        XCTAssertEqual(search.lines.count, 3, search.stdout)
        for n in names { XCTAssertTrue(search.stdout.contains(n.escaped), search.stdout) }

        let label = try kestrel(["label", "--model", model, "--labels", "circle,square", dir.path])
        XCTAssertEqual(label.status, 0, label.stderr)
        XCTAssertEqual(label.lines.count, 3, label.stdout)
        XCTAssertFalse(label.stdoutBytes.contains(0x1B))

        // JSON keeps the real name (escaped the JSON way).
        let json = try kestrel(["index", "list", "--index", index.path, "--json"])
        XCTAssertEqual(Set(try json.jsonLines().map { $0["path"] as! String }), Set(names.map { dir.path + "/" + $0.raw }))
    }
}
