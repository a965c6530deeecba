import Foundation
@testable import KestrelStore
import KestrelFiles
import KestrelTestSupport
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

    /// A stored vector whose bytes read back as NaN (a page of 0xFF) is damage, not a vector
    /// that matches nothing.
    func testKind4_VectorReadBackAsNaNIsDamage() throws {
        var rng = SeededRandom(seed: 4)
        let file = FakeFile(&rng)
        let (store, url) = try makeStore()
        _ = try store.add([file.item("/a")])
        store.close()
        try rawRewrite(url) { put in try put("vectors", bigEndian(1), [UInt8](repeating: 0xFF, count: 4 * testModel.dimension)) }
        let reopened = try Store.open(at: url, readOnly: true)
        guard case .corrupt(_, let detail)? = storeError({ _ = try reopened.vector(id: 1) }) else { return XCTFail("expected corrupt") }
        XCTAssertTrue(detail.contains("NaN"), detail)
        guard case .corrupt? = storeError({ _ = try reopened.allVectors() }) else { return XCTFail("expected corrupt") }
    }

    func testKind4_Float16StoreRefusesValuesItWouldStoreAsInfinity() throws {
        let (store, _) = try makeStore(storage: .float16)
        var rng = SeededRandom(seed: 40)
        var file = FakeFile(&rng)
        XCTAssertEqual(VectorCoding.float(halfBits: VectorCoding.halfBits(70000)), .infinity)
        file.embedding[0] = 70000
        guard case .invalidItem? = storeError({ _ = try store.add([file.item("/a")]) }) else { return XCTFail("expected invalidItem") }
        file.embedding[0] = 65519  // rounds to 65504
        XCTAssertEqual(try store.add([file.item("/a")]), [.added(id: 1)])
    }
}
