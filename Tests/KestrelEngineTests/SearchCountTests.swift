import Foundation
import KestrelEngine
import KestrelTestSupport
import XCTest

/// Kind 2 / kind 3 at the library boundary: `Catalog.search` refuses k <= 0 and clamps a huge k
/// to the item count before anything is sized by it.
final class SearchCountTests: XCTestCase {
    let dimension = 4

    /// A catalog of `count` items with distinct unit vectors (no model needed).
    func makeCatalog(count: Int) throws -> Catalog {
        let dir = Fixtures.temporaryDirectory("kestrel-engine").appendingPathComponent("ix")
        let identity = ModelIdentity(name: "test", fingerprint: "f", dimension: dimension)
        let catalog = try Catalog.openForWriting(dir, identity: identity, modelPath: "/nonexistent", orientation: .exif)
        var items: [NewItem] = []
        for i in 0..<count {
            var v = [Float](repeating: 0.1, count: dimension)
            v[i % dimension] = Float(i + 1)
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            items.append(NewItem(path: "/images/\(i).png", contentHash: String(format: "%064x", i + 1), fileSize: 1,
                                 mtimeNanoseconds: 0, width: 1, height: 1, embedding: v.map { $0 / norm }))
        }
        _ = try catalog.store.add(items)
        try catalog.catchUp()
        return catalog
    }

    func testKind2_searchRefusesKBelowOne() throws {
        let catalog = try makeCatalog(count: 5)
        for k in [0, -1, Int.min] {
            XCTAssertThrowsError(try catalog.search(vector: [1, 0, 0, 0], options: SearchOptions(k: k)), "k = \(k)") { error in
                XCTAssertTrue("\(error)".contains("k"), "\(error)")
            }
        }
    }

    func testKind2_searchClampsHugeKToTheItemCount() throws {
        let catalog = try makeCatalog(count: 5)
        for k in [5, 6, 1_000_000_000_000, Int.max] {
            let all = try catalog.search(vector: [1, 0, 0, 0], options: SearchOptions(k: k))
            XCTAssertEqual(all.count, 5, "k = \(k)")
            XCTAssertEqual(all.map(\.rank), [1, 2, 3, 4, 5])
            XCTAssertEqual(Set(all.map(\.id)).count, 5)
            let like = try catalog.search(vector: [1, 0, 0, 0], options: SearchOptions(k: k), excluding: all[0].id)
            XCTAssertEqual(like.count, 4, "k = \(k), excluding one")
            XCTAssertFalse(like.contains { $0.id == all[0].id })
            let filtered = try catalog.search(vector: [1, 0, 0, 0], options: SearchOptions(k: k, pathPrefix: "/images/1"))
            XCTAssertEqual(filtered.map(\.path), ["/images/1.png"], "k = \(k), prefix")
        }
        let two = try catalog.search(vector: [1, 0, 0, 0], options: SearchOptions(k: 2))
        XCTAssertEqual(two.count, 2)
    }

    func testKind2_searchRefusesNonFiniteMinScore() throws {
        let catalog = try makeCatalog(count: 3)
        for bad: Float in [.nan, .infinity, -.infinity] {
            XCTAssertThrowsError(try catalog.search(vector: [1, 0, 0, 0], options: SearchOptions(k: 3, minScore: bad)), "\(bad)")
        }
    }

    func testKind2_labelRankingRefusesTopBelowOneAndClampsLarge() throws {
        let result = LabelResult(probabilities: [0.2, 0.5, 0.3], cosines: [0.1, 0.3, 0.2], best: 1)
        XCTAssertEqual(try result.ranking(top: 2), [1, 2])
        XCTAssertEqual(try result.ranking(top: Int.max), [1, 2, 0])
        XCTAssertThrowsError(try result.ranking(top: 0))
        XCTAssertThrowsError(try result.ranking(top: -1))
    }
}
