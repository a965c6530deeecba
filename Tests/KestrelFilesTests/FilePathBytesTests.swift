import Foundation
import KestrelFiles
import KestrelTestSupport
import XCTest

/// Kind 1 of issue 6 at the bottom layer: paths compare, sort and print as bytes.
final class FilePathBytesTests: XCTestCase {
    let nfc = FilePathBytes("/p/caf\u{E9}")
    let nfd = FilePathBytes("/p/cafe\u{301}")

    func testKind1_NFCAndNFDAreDifferentPaths() {
        XCTAssertEqual("caf\u{E9}", "cafe\u{301}", "Swift strings call them equal")
        XCTAssertNotEqual(nfc, nfd)
        XCTAssertEqual(Set([nfc, nfd]).count, 2)
        XCTAssertFalse(FilePathBytes("/p/cafe\u{301}/x.png").isUnder(nfc))
        XCTAssertTrue(FilePathBytes("/p/caf\u{E9}/x.png").isUnder(nfc))
        XCTAssertFalse(FilePathBytes("/p/caf\u{E9}x").isUnder(nfc), "a sibling with a longer name is not under it")
        XCTAssertTrue(nfd.hasPrefix("/p/cafe"))
        XCTAssertFalse(nfc.hasPrefix("/p/cafe"))
        XCTAssertTrue(nfc > nfd, "bytewise: C3 sorts after 65")
    }

    func testKind1_EscapedTextForPlainOutput() {
        let cases: [([UInt8], String)] = [
            (Array("/a/new\nline.png".utf8), "/a/new\\nline.png"),
            (Array("tab\there".utf8), "tab\\there"),
            (Array("esc\u{1B}[31m".utf8), "esc\\x1b[31m"),
            ([0x63, 0x61, 0x66, 0xE9], "caf\\xe9"),
            (Array("back\\slash".utf8), "back\\\\slash"),
            (Array("caf\u{E9} \u{1F600}".utf8), "caf\u{E9} \u{1F600}"),
            (Array("c1\u{85}".utf8), "c1\\u0085"),
            ([0xE2, 0x82], "\\xe2\\x82"),               // a truncated 3-byte sequence
            ([0xED, 0xA0, 0x80], "\\xed\\xa0\\x80"),    // an encoded surrogate is not UTF-8
            (Array("del\u{7F}".utf8), "del\\x7f"),
            (Array("evil\u{202E}gnp.exe".utf8), "evil\\u202egnp.exe"),   // right-to-left override
            (Array("\u{2066}iso\u{2069}\u{200F}".utf8), "\\u2066iso\\u2069\\u200f"),
        ]
        for (bytes, want) in cases {
            XCTAssertEqual(FilePathBytes(bytes).escaped, want)
            XCTAssertEqual(PathText.unescape(want), bytes, want)
        }
        // The same controls in whole messages (error lines, class names).
        XCTAssertEqual(PathText.escapeControls("a\u{202E}b\u{85}c\n"), "a\\u202eb\\u0085c\\n")
    }

    func testStandardizedMatchesFoundationForUTF8Paths() {
        let cwd = FileSystem.currentDirectory()
        for p in ["/a/b/../c", "/a/./b//c/", "rel/x.png", "./x", "/", "/..", "a/../../b", "/tmp/caf\u{E9}/../e\u{301}"] {
            let want = URL(fileURLWithPath: p).standardizedFileURL.path
            XCTAssertEqual(FilePathBytes(p).standardized(relativeTo: cwd), FilePathBytes(want), p)
        }
        XCTAssertEqual(FilePathBytes([0x2F, 0x78, 0xE9, 0x2F, 0x2E, 0x2E, 0x2F, 0x79]).standardized(), "/y")
    }

    func testKind12_ReadFileRefusesWhatIsNotARegularFileWithoutReading() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-files")
        let fifo = FilePathBytes(dir.appendingPathComponent("p.jpg").path)
        try RawPaths.makeFIFO(fifo.bytes)
        XCTAssertThrowsError(try FileSystem.readFile(fifo, limit: 100)) { e in
            XCTAssertEqual(e as? FileError, .notRegularFile(path: fifo, kind: .fifo))
            XCTAssertEqual("\(e)", "\(fifo): is a FIFO, not a regular file")
        }
        XCTAssertThrowsError(try FileSystem.readFile(FilePathBytes(dir.path), limit: 100)) { e in
            XCTAssertEqual((e as? FileError)?.reason, "is a directory, not a regular file")
        }
        XCTAssertThrowsError(try FileSystem.readFile("/dev/zero", limit: 100)) { e in
            XCTAssertEqual((e as? FileError)?.reason, "is a character device, not a regular file")
        }
        let file = FilePathBytes(dir.appendingPathComponent("f").path)
        try RawPaths.write(Data(repeating: 7, count: 101), to: file.bytes)
        XCTAssertThrowsError(try FileSystem.readFile(file, limit: 100)) { e in
            XCTAssertEqual(e as? FileError, .tooLarge(path: file, size: 101, limit: 100))
        }
        XCTAssertEqual(try FileSystem.readFile(file, limit: 101), [UInt8](repeating: 7, count: 101))
        XCTAssertEqual(try FileSystem.readHead(file, count: 3), [7, 7, 7])
        XCTAssertThrowsError(try FileSystem.readFile(FilePathBytes(dir.appendingPathComponent("missing").path), limit: 1)) { e in
            XCTAssertEqual((e as? FileError)?.reason, "no such file or folder")
        }
    }

    func testKind1_Latin1NamesListAndStatAsBytes() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-files")
        let name: [UInt8] = [0x63, 0x61, 0x66, 0xE9]
        let path = FilePathBytes(dir.path).appending(name)
        try RawPaths.write(Data("x".utf8), to: path.bytes)
        XCTAssertEqual(try FileSystem.listDirectory(FilePathBytes(dir.path)), [name])
        XCTAssertEqual(try FileSystem.status(path).size, 1)
        XCTAssertTrue(FileSystem.exists(path))
        XCTAssertFalse(FileSystem.exists(FilePathBytes(dir.path + "/caf\u{FFFD}")))
        XCTAssertEqual(path.lastComponent, name)
    }
}

/// The folder and file operations on byte paths that the store, the index file and the catalog use.
final class FileSystemBytesTests: XCTestCase {
    func testParent() {
        XCTAssertEqual(FilePathBytes("/a/b").parent, "/a")
        XCTAssertEqual(FilePathBytes("/a/b/").parent, "/a")
        XCTAssertEqual(FilePathBytes("/a").parent, "/")
        XCTAssertEqual(FilePathBytes("a").parent, ".")
        XCTAssertEqual(FilePathBytes("a/b").parent, "a")
    }

    func testKind1_MakeWriteMapRenameRemoveUnderANonUTF8Name() throws {
        let base = FilePathBytes(Fixtures.temporaryDirectory("kestrel-files").path)
        let deep = base.appending([0xE9]).appending(Array("sub".utf8))
        try FileSystem.makeDirectories(deep)
        try FileSystem.makeDirectories(deep)  // exists: fine
        XCTAssertEqual(try FileSystem.status(deep).kind, .directory)
        let file = deep.appending(Array("r\u{E9}port.json".utf8))
        try FileSystem.writeFileAtomically(Array("{}".utf8), to: file)
        try FileSystem.writeFileAtomically(Array("[1]".utf8), to: file)
        XCTAssertEqual(try FileSystem.readFile(file, limit: 100), Array("[1]".utf8))
        XCTAssertEqual(try FileSystem.listDirectory(deep), [Array("r\u{E9}port.json".utf8)], "no temporary file left")
        XCTAssertEqual(try FileSystem.withMappedFile(file) { Array($0) }, Array("[1]".utf8))
        XCTAssertThrowsError(try FileSystem.withMappedFile(deep) { _ in 0 }) { error in
            XCTAssertEqual(error as? FileError, .notRegularFile(path: deep, kind: .directory))
        }
        let moved = deep.appending([0xFF])
        try FileSystem.rename(file, to: moved)
        XCTAssertFalse(FileSystem.exists(file))
        try FileSystem.removeFile(moved)
        try FileSystem.removeFile(moved)  // gone: fine
        try FileSystem.removeDirectory(deep)
        XCTAssertFalse(FileSystem.exists(deep))
        XCTAssertThrowsError(try FileSystem.makeDirectories(base.appending([0xE9]).appending([0x41]).appending([0x42]).appending([0x43]).appending(Array("\u{0}".utf8))))
    }
}
