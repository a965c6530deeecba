import Foundation
import KestrelEngine
import XCTest

extension XCTestCase {
    /// Adds vectors as the ingest does: store first, then the index, then a save. Item `n`
    /// (counting from `start`) gets the path `/images/n.png` and a content hash of `n` in hex.
    func add(_ catalog: Catalog, _ vs: [[Float]], from start: Int) throws {
        var items: [NewItem] = []
        for (i, v) in vs.enumerated() {
            let n = start + i
            let hash = String(repeating: "0", count: 64 - String(n, radix: 16).count) + String(n, radix: 16)
            items.append(NewItem(path: "/images/\(n).png", contentHash: hash, fileSize: 10, mtimeNanoseconds: 1,
                                 width: 1, height: 1, embedding: v))
        }
        let results = try catalog.store.add(items)
        try catalog.indexAdded(ids: results.map(\.id), vectors: vs.flatMap { $0 }, coveredSequence: try catalog.store.lastSequence)
        try catalog.saveIndex()
    }
}
