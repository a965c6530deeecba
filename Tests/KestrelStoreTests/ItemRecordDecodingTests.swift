import Foundation
@testable import KestrelStore
import KestrelFiles
import XCTest

/// Kind 4: an item record whose bytes still parse but cannot be what the store wrote (no path,
/// an empty path, a path listed twice) is damage, never output (`296<TAB>` with an empty path).
final class Kind4ItemRecordDecodingTests: XCTestCase {
    /// A version-1 item record with these paths (see docs/store-format.md).
    func record(_ paths: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = [1] + [UInt8](repeating: 0xAB, count: 32)
        out += littleEndian(UInt64(1234)) + littleEndian(UInt32(8)) + littleEndian(UInt32(6))
        out += littleEndian(UInt32(paths.count))
        for p in paths { out += littleEndian(UInt32(p.count)) + p }
        return out + [0]
    }

    func testKind4_WellFormedRecordDecodes() throws {
        let item = try XCTUnwrap(StoredItem(decoding: record([Array("/a.png".utf8), Array("/b.png".utf8)])))
        XCTAssertEqual(item.paths, [FilePathBytes("/a.png"), FilePathBytes("/b.png")])
        XCTAssertEqual(item.fileSize, 1234)
        XCTAssertEqual(StoredItem(decoding: item.encoded())?.paths, item.paths)
    }

    func testKind4_RecordWithAnEmptyPathIsDamage() {
        XCTAssertNil(StoredItem(decoding: record([[]])))
        XCTAssertNil(StoredItem(decoding: record([Array("/a.png".utf8), []])))
    }

    func testKind4_RecordWithoutPathsIsDamage() {
        XCTAssertNil(StoredItem(decoding: record([])))
    }

    func testKind4_RecordListingAPathTwiceIsDamage() {
        XCTAssertNil(StoredItem(decoding: record([Array("/a.png".utf8), Array("/a.png".utf8)])))
    }

    func testKind4_RecordWithAPathLongerThanAnyKeyIsDamage() {
        XCTAssertNil(StoredItem(decoding: record([[UInt8](repeating: 0x61, count: 5000)])))
    }
}
