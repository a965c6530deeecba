import Foundation
import KestrelStore
import KestrelTestSupport
import XCTest

/// Kind 4: a writer checks the page structure of data.mdb before changing it. A healthy store
/// of every shape passes (large values on overflow pages, a free-page list after removals,
/// several sub-databases); a damaged page header is refused at a writable open, not written into.
final class Kind4StoreStructureTests: XCTestCase {
    func bigStore() throws -> (URL, [FakeFile]) {
        let wide = ModelIdentity(name: "wide", fingerprint: "sha256:2222", dimension: 1536)  // 6 KB vectors: overflow pages
        let (store, url) = try makeStore(wide)
        var rng = SeededRandom(seed: 12)
        let files = (0..<300).map { _ in FakeFile(&rng, dimension: 1536) }
        for batch in stride(from: 0, to: 300, by: 50) {
            _ = try store.add((batch..<batch + 50).map { files[$0].item("/photos/\(String(repeating: "long-folder-name/", count: 8))\($0).jpg") })
        }
        try store.removePaths((0..<300).filter { $0 % 3 == 0 }.map { "/photos/\(String(repeating: "long-folder-name/", count: 8))\($0).jpg" })
        try store.setMetadata(id: 2, json: "{\"caption\": \"\(String(repeating: "x", count: 9000))\"}")
        store.close()
        return (url, files)
    }

    func testKind4_HealthyStoresPassTheStructureCheck() throws {
        let (url, _) = try bigStore()
        let store = try Store.open(at: url)  // writable: runs the check
        XCTAssertEqual(try store.count, 200)
        XCTAssertEqual(try store.allVectors().ids.count, 200)
        XCTAssertNotNil(try store.item(id: 2)?.metadata)
    }

    func testKind4_DamagedPageHeaderIsRefusedBeforeAWrite() throws {
        let (url, _) = try bigStore()
        let data = url.appendingPathComponent("data.mdb")
        var bytes = try Data(contentsOf: data)
        // Every leaf page (flags 0x02 at offset 10) gets free-space bounds running past the page
        // (some of them are free pages, some are in use).
        let pageSize = 4096
        var damaged = 0
        for page in 2..<(bytes.count / pageSize) where bytes[page * pageSize + 10] == 0x02 {
            bytes[page * pageSize + 14] = 0xFF
            bytes[page * pageSize + 15] = 0x7F  // upper = 0x7FFF
            damaged += 1
        }
        XCTAssertGreaterThan(damaged, 0)
        try bytes.write(to: data)
        guard case .corrupt(_, let detail)? = storeError({ _ = try Store.open(at: url) }) else {
            return XCTFail("expected the store to be refused as damaged")
        }
        XCTAssertTrue(detail.contains("page"), detail)
    }
}
