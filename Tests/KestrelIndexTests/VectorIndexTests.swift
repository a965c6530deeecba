import KestrelIndex
import KestrelTestSupport
import XCTest

final class VectorIndexTests: XCTestCase {
    let d = 32

    func testFlatEqualsBruteForceInnerProduct() throws {
        let n = 2000, dim = 64
        let base = unitVectors(n, dim, seed: 1)
        let ids = sparseIDs(n)
        let queries = unitVectors(20, dim, seed: 2)
        let index = try VectorIndex.create(dimension: dim, factory: "Flat")
        try index.add(ids: ids, vectors: base)
        XCTAssertEqual(index.kind, .flat)
        XCTAssertEqual(index.count, n)
        let hits = try index.search(queries, count: 20, k: 10)
        for q in 0..<20 {
            let expected = bruteForce(base, ids: ids, query: queries[(q * dim)..<((q + 1) * dim)], k: 10)
            XCTAssertEqual(hits[q].map(\.id), expected.map(\.id), "query \(q)")
            assertClose(hits[q].map(\.score), expected.map(\.score), absolute: 1e-5)
        }
    }

    func testRemoveWorksForEveryType() throws {
        let n = 3000
        let base = unitVectors(n, d, seed: 3)
        let ids = sparseIDs(n)
        let gone = Array(ids[100..<400]) + [ids[n - 1]]
        for factory in ["Flat", "HNSW32,Flat", "IVF16,Flat", "IVF16,PQ8", "SQ8"] {
            let index = try VectorIndex.create(dimension: d, factory: factory)
            try index.train(sampleFrom: base, count: n)
            try index.add(ids: ids, vectors: base)
            XCTAssertEqual(try index.remove(ids: gone + [42]), gone.count, factory)  // 42 is unknown: ignored
            XCTAssertEqual(try index.remove(ids: gone), 0, factory)
            XCTAssertEqual(index.count, n - gone.count, factory)
            XCTAssertFalse(index.contains(gone[0]), factory)
            XCTAssertTrue(index.contains(ids[0]), factory)
            let goneSet = Set(gone)
            XCTAssertEqual(index.ids, ids.filter { !goneSet.contains($0) }, factory)

            let exhaustive = SearchParameters(nprobe: 16, efSearch: 256)
            // Removed vectors, used as queries, never come back.
            let removedQueries = (100..<140).flatMap { row(base, $0, d) }
            let removedHits = try index.search(removedQueries, count: 40, k: 20, parameters: exhaustive)
            for hits in removedHits {
                XCTAssertEqual(hits.count, 20, factory)
                XCTAssertTrue(Set(hits.map(\.id)).isDisjoint(with: gone), factory)
            }
            // Kept vectors still find themselves first (PQ codes are lossy: mostly).
            let kept = [0, 50, 450, 1000, 2500, 2998]
            let keptHits = try index.search(kept.flatMap { row(base, $0, d) }, count: kept.count, k: 5, parameters: exhaustive)
            let selfFound = zip(kept, keptHits).filter { $0.1.first?.id == ids[$0.0] }.count
            XCTAssertGreaterThanOrEqual(selfFound, factory.contains("PQ") ? 4 : kept.count, factory)

            // Removal survives save / load.
            let dir = Fixtures.temporaryDirectory("kestrel-index")
            defer { try? FileManager.default.removeItem(at: dir) }
            let url = dir.appendingPathComponent("i.kidx")
            try index.save(to: url)
            let loaded = try VectorIndex.load(from: url)
            XCTAssertEqual(loaded.ids, index.ids, factory)
            XCTAssertEqual(try loaded.search(removedQueries, count: 40, k: 20, parameters: exhaustive).map { $0.map(\.id) },
                           removedHits.map { $0.map(\.id) }, factory)
            // The freed ids can be added again.
            try loaded.add(ids: [gone[0]], vectors: row(base, 100, d))
            XCTAssertEqual(try loaded.search(row(base, 100, d), count: 1, k: 1, parameters: exhaustive)[0].first?.id, gone[0], factory)
        }
    }

    func testHNSWRebuildsWhenTombstonesDominate() throws {
        let n = 1000
        let base = unitVectors(n, d, seed: 4)
        let ids = sparseIDs(n)
        let index = try VectorIndex.create(dimension: d, factory: "hnsw")
        XCTAssertEqual(index.kind, .hnsw)
        try index.add(ids: ids, vectors: base)
        try index.remove(ids: Array(ids[0..<700]))  // crosses half: graph rebuilt without them
        XCTAssertEqual(index.ids, Array(ids[700...]))
        let hits = try index.search(row(base, 800, d), count: 1, k: 10, parameters: SearchParameters(efSearch: 200))
        XCTAssertEqual(hits[0].first?.id, ids[800])
        XCTAssertTrue(hits[0].allSatisfy { $0.id >= ids[700] })
        XCTAssertEqual(try index.reconstruct(id: ids[900]), row(base, 900, d))
    }

    func testAllowedIDsRestrictResults() throws {
        let n = 5000
        let base = unitVectors(n, d, seed: 5)
        let ids = sparseIDs(n)
        let queries = unitVectors(5, d, seed: 6)
        for factory in ["Flat", "HNSW32,Flat", "IVF32,Flat"] {
            let index = try VectorIndex.create(dimension: d, factory: factory)
            try index.train(sampleFrom: base, count: n)
            try index.add(ids: ids, vectors: base)
            // Small allow-list: ranked exactly.
            let small = Set(ids.enumerated().filter { $0.offset % 97 == 0 }.map(\.element))
            let hits = try index.search(queries, count: 5, k: 10, allowedIDs: small)
            let subset = ids.indices.filter { $0 % 97 == 0 }
            let subBase = subset.flatMap { row(base, $0, d) }
            for q in 0..<5 {
                let expected = bruteForce(subBase, ids: subset.map { ids[$0] }, query: queries[(q * d)..<((q + 1) * d)], k: 10)
                XCTAssertEqual(hits[q].map(\.id), expected.map(\.id), factory)
            }
            // Large allow-list: goes through FAISS's selector; nothing outside it comes back.
            let large = Set(ids.enumerated().filter { $0.offset % 2 == 0 }.map(\.element))
            let wide = try index.search(queries, count: 5, k: 10, allowedIDs: large, parameters: SearchParameters(nprobe: 32, efSearch: 128))
            for h in wide {
                XCTAssertEqual(h.count, 10, factory)
                XCTAssertTrue(h.allSatisfy { large.contains($0.id) }, factory)
            }
            XCTAssertEqual(try index.search(queries, count: 5, k: 3, allowedIDs: []).map(\.count), [0, 0, 0, 0, 0])
        }
    }

    func testBadInputsAreTypedErrors() throws {
        let index = try VectorIndex.create(dimension: d, factory: "Flat")
        try index.add(ids: [1, 2], vectors: unitVectors(2, d, seed: 7))
        XCTAssertThrowsError(try index.add(ids: [3], vectors: [Float](repeating: 0, count: d + 1))) {
            XCTAssertEqual($0 as? IndexError, .dimensionMismatch(expected: d, got: d + 1))
        }
        XCTAssertThrowsError(try index.add(ids: [2], vectors: unitVectors(1, d, seed: 8))) {
            guard case .invalidArgument(let message)? = $0 as? IndexError else { return XCTFail("\($0)") }
            XCTAssertTrue(message.contains("duplicate id 2"), message)
        }
        XCTAssertEqual(index.count, 2)  // all or nothing
        XCTAssertThrowsError(try index.add(ids: [5, 5], vectors: unitVectors(2, d, seed: 8)))
        XCTAssertThrowsError(try index.add(ids: [-1], vectors: unitVectors(1, d, seed: 8)))
        XCTAssertThrowsError(try index.search([Float](repeating: 0, count: d - 1), count: 1, k: 1))
        XCTAssertThrowsError(try VectorIndex.create(dimension: d, factory: "NotAFactory")) {
            guard case .unknownFactory? = $0 as? IndexError else { return XCTFail("\($0)") }
        }
        let ivf = try VectorIndex.create(dimension: d, factory: "IVF8,Flat")
        XCTAssertFalse(ivf.isTrained)
        XCTAssertThrowsError(try ivf.add(ids: [1], vectors: unitVectors(1, d, seed: 9))) {
            XCTAssertEqual($0 as? IndexError, .notTrained(factory: "IVF8,Flat"))
        }
    }
}
