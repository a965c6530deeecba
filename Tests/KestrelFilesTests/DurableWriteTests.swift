import Foundation
import KestrelFiles
import KestrelTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `FileSystem.writeFileDurably` and `syncDirectory`: the file lands whole under its name, a
/// failure leaves the old file and no temporary file, and nothing is written through a link.
final class DurableWriteTests: XCTestCase {
    func folder() throws -> FilePathBytes {
        let dir = Fixtures.temporaryDirectory("kestrel-durable")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return FilePathBytes(dir.path)
    }

    func names(_ dir: FilePathBytes) throws -> [String] {
        try FileSystem.listDirectory(dir).map { String(decoding: $0, as: UTF8.self) }.sorted()
    }

    func testWritesAndReplacesWholeFilesAndLeavesNoTemporaryFile() throws {
        let dir = try folder()
        let target = dir.appending(Array("caf\u{E9}-\u{FF}.bin".utf8) + [0xFF])  // not UTF-8: bytes all the way
        let first = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try FileSystem.writeFileDurably(first, to: target)
        XCTAssertEqual(try FileSystem.readFile(target, limit: 1 << 20), first)
        try FileSystem.writeFileDurably([1, 2, 3], to: target)
        XCTAssertEqual(try FileSystem.readFile(target, limit: 1 << 20), [1, 2, 3])
        try FileSystem.writeFileDurably([], to: target)
        XCTAssertEqual(try FileSystem.readFile(target, limit: 1 << 20), [])
        XCTAssertEqual(try FileSystem.listDirectory(dir), [target.lastComponent])
    }

    func testALeftoverTemporaryFileOrALinkInItsPlaceIsReplacedNotFollowed() throws {
        let dir = try folder()
        let target = dir.appending(Array("a.png".utf8))
        let temp = dir.appending(Array(".a.png.tmp".utf8))
        // A crash mid-write left a temporary file: it is replaced.
        try FileSystem.writeFileAtomically([9, 9, 9, 9, 9, 9], to: temp)
        try FileSystem.writeFileDurably([1], to: target)
        XCTAssertEqual(try FileSystem.readFile(target, limit: 10), [1])
        // A link planted at the temporary name: the file it points to is never written.
        let victim = dir.appending(Array("victim".utf8))
        try FileSystem.writeFileAtomically([7, 7], to: victim)
        XCTAssertEqual(victim.withCString { v in temp.withCString { symlink(v, $0) } }, 0)
        try FileSystem.writeFileDurably([2, 2, 2], to: target)
        XCTAssertEqual(try FileSystem.readFile(victim, limit: 10), [7, 7])
        XCTAssertEqual(try FileSystem.readFile(target, limit: 10), [2, 2, 2])
        XCTAssertEqual(try names(dir), ["a.png", "victim"])
    }

    /// A write that fails part-way (the file size limit, EFBIG) is an error naming the step; the
    /// old file is untouched and the temporary file is gone.
    func testAFailedWriteLeavesTheOldFileAndNoTemporaryFile() throws {
        let dir = try folder()
        let target = dir.appending(Array("kept.bin".utf8))
        try FileSystem.writeFileDurably([5, 5, 5], to: target)
        var old = rlimit()
        XCTAssertEqual(getrlimit(Int32(RLIMIT_FSIZE.rawValue), &old), 0)
        let previousHandler = signal(SIGXFSZ, SIG_IGN)
        var small = old
        small.rlim_cur = 4096
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &small), 0)
        let outcome = Result { try FileSystem.writeFileDurably([UInt8](repeating: 1, count: 100_000), to: target) }
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &old), 0)
        signal(SIGXFSZ, previousHandler)
        XCTAssertThrowsError(try outcome.get()) { error in
            guard case FileError.system(let path, let operation, let code, _)? = error as? FileError else { return XCTFail("\(error)") }
            XCTAssertEqual(operation, "write")
            XCTAssertEqual(code, EFBIG)
            XCTAssertEqual(path.lastComponent, Array(".kept.bin.tmp".utf8))
        }
        XCTAssertEqual(try FileSystem.readFile(target, limit: 10), [5, 5, 5])
        XCTAssertEqual(try names(dir), ["kept.bin"])
    }

    func testMissingFoldersAreErrors() throws {
        let dir = try folder()
        let nowhere = dir.appending(Array("no-such-folder".utf8))
        XCTAssertThrowsError(try FileSystem.writeFileDurably([1], to: nowhere.appending(Array("x".utf8)))) { error in
            XCTAssertEqual(error as? FileError, .notFound(path: nowhere.appending(Array(".x.tmp".utf8))))
        }
        XCTAssertThrowsError(try FileSystem.syncDirectory(nowhere)) { error in
            XCTAssertEqual(error as? FileError, .notFound(path: nowhere))
        }
        try FileSystem.syncDirectory(dir)
        let file = dir.appending(Array("f".utf8))
        try FileSystem.writeFileDurably([1], to: file)
        XCTAssertThrowsError(try FileSystem.syncDirectory(file))  // ENOTDIR: not a folder
        XCTAssertEqual(try names(dir), ["f"])
    }
}
