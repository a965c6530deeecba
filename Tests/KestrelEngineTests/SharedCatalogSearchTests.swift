import Foundation
import KestrelEngine
import KestrelTestSupport
import XCTest

/// A `Catalog` shared by a writer and searchers (the HTTP service's case): a writer removes an
/// item from the store first and from the index just after. A search in between must leave the
/// item out, not call the store damaged; once the index has caught up, a missing item is damage.
final class SharedCatalogSearchTests: XCTestCase {
    func testSearchBetweenStoreRemovalAndIndexRemovalLeavesTheItemOut() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-engine").appendingPathComponent("ix")
        let identity = ModelIdentity(name: "test", fingerprint: "f", dimension: 4)
        let catalog = try Catalog.openForWriting(dir, identity: identity, modelPath: "/nonexistent", orientation: .exif)
        let raw: [[Float]] = [[1, 0, 0, 0], [0.9, 0.1, 0, 0], [0, 1, 0, 0]]
        let unit = raw.map { v -> [Float] in
            let n = v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
            return v.map { $0 / n }
        }
        try add(catalog, unit, from: 1)
        // The writer's first step: the store forgets /images/1.png; the index still has it.
        let removed = try catalog.store.removePaths(["/images/1.png"])
        XCTAssertEqual(removed.count, 1)
        let during = try catalog.search(vector: [1, 0, 0, 0], options: SearchOptions(k: 3))
        XCTAssertEqual(during.map(\.path), ["/images/2.png", "/images/3.png"])
        // The writer's second step; afterwards the answer is the same.
        try catalog.indexRemoved(ids: removed, coveredSequence: try catalog.store.lastSequence)
        let after = try catalog.search(vector: [1, 0, 0, 0], options: SearchOptions(k: 3))
        XCTAssertEqual(after.map(\.path), ["/images/2.png", "/images/3.png"])
    }
}
