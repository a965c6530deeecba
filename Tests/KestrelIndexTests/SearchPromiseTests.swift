import Foundation
import KestrelIndex
import KestrelTestSupport
import XCTest

/// Kind 9: whatever the tuned efSearch / nprobe, a search returns k results when the index holds
/// at least k, and the k best of a bigger k start with the same first result.
final class Kind9SearchPromiseTests: XCTestCase {
    let d = 32

    func filled(_ factory: String, n: Int, seed: UInt64) throws -> (VectorIndex, [Int64], [Float]) {
        let base = unitVectors(n, d, seed: seed)
        let ids = sparseIDs(n)
        let index = try VectorIndex.create(dimension: d, factory: factory, expectedCount: n)
        try index.train(sampleFrom: base, count: n)
        try index.add(ids: ids, vectors: base)
        return (index, ids, base)
    }

    func testKind9_HNSWReturnsKResultsWhateverItsEfSearch() throws {
        let (index, _, _) = try filled("HNSW32,Flat", n: 800, seed: 1)
        index.searchParameters = SearchParameters(efSearch: 1)  // what a tuning over 12 items gave
        let queries = unitVectors(20, d, seed: 2)
        for k in [1, 10, 100, 800] {
            let rows = try index.search(queries, count: 20, k: k)
            XCTAssertEqual(rows.map(\.count), [Int](repeating: k, count: 20), "k=\(k)")
            for row in rows { XCTAssertEqual(Set(row.map(\.id)).count, k, "k=\(k): repeated ids") }
        }
        XCTAssertEqual(try index.search(Array(queries[0..<d]), count: 1, k: 1000)[0].count, 800)
    }

    func testKind9_IVFReturnsKResultsWhateverItsNprobe() throws {
        let (index, _, _) = try filled("IVF16,Flat", n: 1000, seed: 3)
        index.searchParameters = SearchParameters(nprobe: 1)
        let queries = unitVectors(20, d, seed: 4)
        for k in [10, 100, 360, 1000] {
            let rows = try index.search(queries, count: 20, k: k)
            XCTAssertEqual(rows.map(\.count), [Int](repeating: k, count: 20), "k=\(k)")
        }
    }

    func testKind9_FirstResultDoesNotDependOnK() throws {
        let (index, _, _) = try filled("HNSW32,Flat", n: 800, seed: 5)
        index.searchParameters = SearchParameters(efSearch: 1)
        let queries = unitVectors(200, d, seed: 6)
        let one = try index.search(queries, count: 200, k: 1).map { $0.first?.id }
        let ten = try index.search(queries, count: 200, k: 10).map { $0.first?.id }
        XCTAssertEqual(one, ten)
    }

    /// Tuning never settles on efSearch below the k it measured.
    func testKind9_TunedEfSearchIsAtLeastK() throws {
        let (index, ids, base) = try filled("HNSW32,Flat", n: 12, seed: 7)
        let result = try index.tune(recallTarget: 0.95, k: 10, reference: (ids, base))
        XCTAssertGreaterThanOrEqual(result.value, 10, "\(result)")
        XCTAssertGreaterThanOrEqual(index.searchParameters.efSearch ?? 0, 10)
    }
}
