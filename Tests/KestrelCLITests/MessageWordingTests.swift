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
            let stats = try Kestrel.run(["index", "stats", "--index", path])
            XCTAssertEqual(stats.status, 1, stats.stderr)
            XCTAssertEqual(stats.stderr, "error: \(path): \(words)\n")
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

    /// Class names the tokenizer reads alike (case, surrounding spaces inside) would share one
    /// embedding and split every probability 50/50: refused as repeats are, naming both.
    func testKind12_ClassNamesThatReadTheSameToTheModelAreRefused() throws {
        let r = try Kestrel.run(["label", "--model", model, "--labels", "Dog,cat,dog", image])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("Dog, dog read the same to the model"), r.stderr)
        XCTAssertTrue(r.stdout.isEmpty, r.stdout)
        XCTAssertEqual(try Kestrel.run(["label", "--model", model, "--labels", "dog,cat", image]).status, 0)
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

    func testKind12_PerImageErrorsNameTheImageOnce() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-words")
        // A model whose preprocessing does not crop: a portrait image comes out 96x32.
        let folder = dir.appendingPathComponent("nocrop")
        try FileManager.default.copyItem(at: Fixtures.repoRoot.appendingPathComponent(model), to: folder)
        let configURL = folder.appendingPathComponent("preprocessor_config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        config["do_center_crop"] = false
        config["crop_size"] = nil
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        let portrait = Fixtures.url("images/case_portrait_120x360.png").path
        let r = try Kestrel.run(["embed", "--model", folder.path, "--image", portrait])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(r.stderr.components(separatedBy: portrait).count - 1, 1, "the image named once: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains("gives 96x32 px images"), r.stderr)

        // A 1 x 600 strip resized by its short side would be 32 x 19200: over a pixel limit of 1000.
        let strip = dir.appendingPathComponent("strip.png")
        try Data(grayPNG(width: 1, height: 600)).write(to: strip)
        let big = try Kestrel.run(["embed", "--model", model, "--image", strip.path, "--pixel-limit", "1000"])
        XCTAssertEqual(big.status, 1, big.stderr)
        XCTAssertEqual(big.stderr, "error: \(strip.path): resized for the model, the image would be 32x19200 = 614400 pixels,"
                       + " more than the limit of 1000; to use it anyway, pass --pixel-limit 614400\n")
    }

    /// A grey PNG (uncompressed deflate blocks), built here so the test needs no image tool.
    func grayPNG(width: Int, height: Int) -> [UInt8] {
        func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
        func crc32(_ bytes: [UInt8]) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes { c ^= UInt32(b); for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 } }
            return ~c
        }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            return be32(UInt32(data.count)) + body + be32(crc32(body))
        }
        var raw: [UInt8] = []
        for y in 0..<height { raw.append(0); for x in 0..<width { raw.append(UInt8((x + y) % 256)) } }
        var z: [UInt8] = [0x78, 0x01]
        var start = 0
        repeat {
            let n = min(65535, raw.count - start)
            z.append(start + n == raw.count ? 1 : 0)
            z += [UInt8(n & 255), UInt8(n >> 8), UInt8(~n & 255), UInt8((~n >> 8) & 255)]
            z += raw[start..<(start + n)]
            start += n
        } while start < raw.count
        var (a, b): (UInt32, UInt32) = (1, 0)
        for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        z += be32(b << 16 | a)
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            + chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [8, 0, 0, 0, 0])
            + chunk("IDAT", z) + chunk("IEND", [])
    }
}
