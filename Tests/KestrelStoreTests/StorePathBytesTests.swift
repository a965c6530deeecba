import Foundation
import KestrelFiles
import KestrelStore
import KestrelTestSupport
import XCTest

/// Kind 1 of issue 6 in the store: paths are keys of bytes, never Swift strings.
final class StorePathBytesTests: XCTestCase {
    let nfc = FilePathBytes("/p/caf\u{E9}.png")
    let nfd = FilePathBytes("/p/cafe\u{301}.png")
    let latin1 = FilePathBytes([0x2F, 0x70, 0x2F, 0x63, 0x61, 0x66, 0xE9, 0x2E, 0x70, 0x6E, 0x67])  // "/p/caf\xe9.png"

    func testKind1_NFCAndNFDAndLatin1AreThreePathsThatRoundTripAsBytes() throws {
        var rng = SeededRandom(seed: 7)
        let (store, url) = try makeStore()
        let file = FakeFile(&rng)
        XCTAssertEqual(try store.add([file.item(nfc), file.item(nfd), file.item(latin1)]), [.added(id: 1), .pathAdded(id: 1), .pathAdded(id: 1)])
        XCTAssertEqual(try store.pathCount, 3)
        XCTAssertEqual(try store.item(id: 1)?.paths, [nfc, nfd, latin1])
        XCTAssertEqual(try store.lookup(path: latin1)?.id, 1)
        // Removing one spelling leaves the others and the item.
        XCTAssertEqual(try store.removePaths([nfd]), [])
        XCTAssertEqual(try store.item(id: 1)?.paths, [nfc, latin1])
        XCTAssertNil(try store.lookup(path: nfd))
        XCTAssertNotNil(try store.lookup(path: nfc))
        // Reopened, the bytes are the same (the record does not validate UTF-8).
        store.close()
        let again = try Store.open(at: url)
        defer { again.close() }
        XCTAssertEqual(try again.paths(), [nfc, latin1].sorted())
        XCTAssertEqual(try again.item(id: 1)?.paths, [nfc, latin1])
    }

    func testPrefixIsOneRangeScanOfBytes() throws {
        var rng = SeededRandom(seed: 8)
        let (store, _) = try makeStore()
        defer { store.close() }
        let paths: [FilePathBytes] = [nfc, nfd, latin1, "/p/cafe.png", "/q/a.png", "/p", "/o/z.png"]
        for p in paths { _ = try store.add([FakeFile(&rng).item(p)]) }
        func under(_ prefix: FilePathBytes) throws -> [FilePathBytes] { try store.paths(withPrefix: prefix).map(\.path) }
        XCTAssertEqual(try under("/p/caf\u{E9}"), [nfc])
        XCTAssertEqual(try under("/p/cafe"), ["/p/cafe.png", nfd])
        XCTAssertEqual(try under(FilePathBytes([0x2F, 0x70, 0x2F, 0x63, 0x61, 0x66, 0xE9])), [latin1])
        XCTAssertEqual(try under("/p/"), paths.filter { $0.hasPrefix("/p/") }.sorted())
        XCTAssertEqual(try under(""), paths.sorted())
        XCTAssertEqual(try under("/r"), [])
        XCTAssertEqual(try under(FilePathBytes(String(repeating: "x", count: 600))), [])
        // Each path's id is the one lookup gives.
        for (p, id) in try store.paths(withPrefix: "") { XCTAssertEqual(try store.lookup(path: p)?.id, id) }
    }

    /// `index list` reads every path with its item in one read transaction: the same rows as a
    /// transaction per path (`paths(withPrefix:)` then `item(id:)`), in the same byte order.
    func testPathItemsIsPathsWithTheirItems() throws {
        var rng = SeededRandom(seed: 9)
        let (store, _) = try makeStore()
        defer { store.close() }
        let twin = FakeFile(&rng)
        _ = try store.add([twin.item(nfc), twin.item(latin1)])  // one item, two paths
        for p: FilePathBytes in [nfd, "/q/a.png", "/o/z.png"] { _ = try store.add([FakeFile(&rng).item(p)]) }
        for prefix: FilePathBytes in ["", "/p/", "/p/cafe", "/r"] {
            let perPath = try store.paths(withPrefix: prefix).map { ($0.path, try XCTUnwrap(store.item(id: $0.id))) }
            let oneScan = try store.pathItems(withPrefix: prefix)
            XCTAssertEqual(oneScan.map(\.path), perPath.map(\.0), "prefix \(prefix)")
            XCTAssertEqual(oneScan.map(\.item), perPath.map(\.1), "prefix \(prefix)")
        }
        XCTAssertEqual(try store.pathItems(withPrefix: "").count, 5)
        XCTAssertEqual(try store.pathItems(withPrefix: "").filter { $0.item.paths == [nfc, latin1] }.count, 2)
    }
}
