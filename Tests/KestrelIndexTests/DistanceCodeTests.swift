import KestrelIndex
import KestrelTestSupport
import XCTest

/// The shim's SIMD distance code (Sources/CFaiss/fast_flat.cpp, fast_hnsw_add.cpp) against its
/// naive twin and against FAISS's own code (level `.faiss`), at every level this CPU supports.
/// The HNSW twins build with prune headroom 0 (FAISS 1.7.3's rule, which FAISS's own code
/// follows); the shim's default headroom is tested on its own below.
final class DistanceCodeTests: XCTestCase {
    var dir: URL!
    var savedLevel = DistanceCode.current
    var savedThreads = 0
    var savedHeadroom: Float = 0

    override func setUp() {
        dir = Fixtures.temporaryDirectory("kestrel-distance-code")
        savedLevel = DistanceCode.current
        savedThreads = VectorIndex.setThreadCount(0)
        savedHeadroom = VectorIndex.hnswPruneHeadroom
    }

    override func tearDown() {
        DistanceCode.set(savedLevel)
        VectorIndex.setThreadCount(savedThreads)
        VectorIndex.setHNSWPruneHeadroom(savedHeadroom)
        try? FileManager.default.removeItem(at: dir)
    }

    /// Every level up to the best one this CPU has (always .faiss and .portable).
    var levels: [DistanceCode] { DistanceCode.allCases.filter { $0 <= DistanceCode.best } }
    var fastLevels: [DistanceCode] { levels.filter { $0 != .faiss } }

    /// Components uniform in [-1, 1).
    func randomFloats(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SeededRandom(seed: seed)
        return (0..<n).map { _ in Float(Double(rng.next() >> 11) / Double(1 << 53)) * 2 - 1 }
    }

    /// Small integers in -3...3 (as floats): every inner product of them is exact in any order of
    /// summation, so every level must give bit-identical distances and hence the same graph.
    func integerVectors(_ n: Int, _ d: Int, seed: UInt64) -> [Float] {
        var rng = SeededRandom(seed: seed)
        return (0..<(n * d)).map { _ in Float(Int(rng.next() % 7) - 3) }
    }

    func testLevelsClampToWhatTheCPUSupports() {
        XCTAssertGreaterThanOrEqual(DistanceCode.best, .portable)
        for level in DistanceCode.allCases {
            XCTAssertEqual(DistanceCode.set(level), min(level, DistanceCode.best), "\(level)")
            XCTAssertEqual(DistanceCode.current, min(level, DistanceCode.best))
        }
    }

    func testKernelsMatchNaiveTwinOnOddDimensions() {
        for d in [1, 3, 17, 64, 511, 512, 768] {
            for trial in 0..<4 {
                let x = randomFloats(d, seed: UInt64(d * 10 + trial)), y = randomFloats(d, seed: UInt64(d * 10 + trial + 5))
                // Naive twin in Double, and the bound float rounding allows for any order of the sum.
                var exact = 0.0, magnitude = 0.0
                for i in 0..<d {
                    exact += Double(x[i]) * Double(y[i])
                    magnitude += abs(Double(x[i]) * Double(y[i]))
                }
                let bound = Double(d + 4) * 0x1p-24 * magnitude + 1e-30
                for level in levels {
                    let got = Double(DistanceCode.innerProduct(x, y, level: level))
                    XCTAssertLessThanOrEqual(abs(got - exact), bound, "d=\(d) trial \(trial) level \(level)")
                }
            }
        }
    }

    func testFlatSearchEqualsBruteForceAtEveryLevel() throws {
        // 12,000 x 67 is large enough for one query to be split over two threads; 25 queries
        // take FAISS's BLAS path, fewer take the shim's.
        let n = 12_000, d = 67
        let base = unitVectors(n, d, seed: 11), ids = sparseIDs(n)
        let queries = unitVectors(25, d, seed: 12)
        VectorIndex.setThreadCount(2)
        let truths = (0..<25).map { q in bruteForce(base, ids: ids, query: queries[(q * d)..<((q + 1) * d)], k: 10) }
        for level in levels {
            DistanceCode.set(level)
            let index = try VectorIndex.create(dimension: d, factory: "Flat")
            try index.add(ids: ids, vectors: base)
            XCTAssertEqual(index.usesFastStorage, level != .faiss, "\(level)")
            for count in [1, 3, 25] {
                let hits = try index.search(Array(queries[0..<(count * d)]), count: count, k: 10)
                for q in 0..<count {
                    let truth = truths[q]
                    XCTAssertEqual(hits[q].map(\.id), truth.map(\.id), "level \(level), \(count) queries, query \(q)")
                    for (h, t) in zip(hits[q], truth) { XCTAssertEqual(h.score, t.score, accuracy: 1e-5) }
                }
            }
        }
    }

    func testFlatShortRowsAndRemovalAtEveryLevel() throws {
        let d = 9
        let base = unitVectors(6, d, seed: 3), ids = sparseIDs(6)
        for level in fastLevels {
            DistanceCode.set(level)
            let index = try VectorIndex.create(dimension: d, factory: "Flat")
            try index.add(ids: ids, vectors: base)
            try index.remove(ids: [ids[2]])
            let hits = try index.search(row(base, 0, d), count: 1, k: 10)[0]
            XCTAssertEqual(hits.count, 5, "\(level)")
            XCTAssertEqual(hits.first?.id, ids[0])
            XCTAssertFalse(hits.contains { $0.id == ids[2] })
            XCTAssertEqual(hits.map(\.score), hits.map(\.score).sorted(by: >))
        }
    }

    /// Builds HNSW32,Flat over `base` on one thread (a deterministic build) at `level`, with prune
    /// headroom 0 (FAISS 1.7.3's rule) unless told otherwise.
    func buildHNSW(_ base: [Float], _ n: Int, _ d: Int, level: DistanceCode, headroom: Float = 0) throws -> VectorIndex {
        DistanceCode.set(level)
        VectorIndex.setThreadCount(1)
        VectorIndex.setHNSWPruneHeadroom(headroom)
        let index = try VectorIndex.create(dimension: d, factory: "HNSW32,Flat")
        try index.add(ids: sparseIDs(n), vectors: base)
        return index
    }

    func testHNSWGraphEqualsFAISSOwnBuildAndSurvivesWriteRead() throws {
        let n = 1_500, d = 24
        let base = integerVectors(n, d, seed: 21), queries = integerVectors(30, d, seed: 22)
        let params = SearchParameters(efSearch: 40)
        let reference = try buildHNSW(base, n, d, level: .faiss)
        XCTAssertFalse(reference.usesFastStorage)
        let expected = try reference.search(queries, count: 30, k: 10, parameters: params)
        let referenceFile = dir.appendingPathComponent("faiss.kidx")
        try reference.save(to: referenceFile)
        for level in fastLevels {
            let index = try buildHNSW(base, n, d, level: level)
            XCTAssertTrue(index.usesFastStorage, "\(level)")
            let got = try index.search(queries, count: 30, k: 10, parameters: params)
            XCTAssertEqual(got.map { $0.map(\.id) }, expected.map { $0.map(\.id) }, "\(level): same graph walk")
            XCTAssertEqual(got.map { $0.map(\.score) }, expected.map { $0.map(\.score) }, "\(level)")
            // Same graph, same bytes: the file is FAISS's format whatever code built it.
            let file = dir.appendingPathComponent("\(level).kidx")
            try index.save(to: file)
            XCTAssertEqual(try Data(contentsOf: file), try Data(contentsOf: referenceFile), "\(level): file bytes")
            // A file written by FAISS's own code reads back onto the fast storage, searches alike,
            // and is written back byte for byte.
            let loaded = try VectorIndex.load(from: referenceFile)
            XCTAssertTrue(loaded.usesFastStorage, "\(level)")
            let again = try loaded.search(queries, count: 30, k: 10, parameters: params)
            XCTAssertEqual(again.map { $0.map(\.id) }, expected.map { $0.map(\.id) }, "\(level): after read")
            let rewritten = dir.appendingPathComponent("\(level)-rewritten.kidx")
            try loaded.save(to: rewritten)
            XCTAssertEqual(try Data(contentsOf: rewritten), try Data(contentsOf: referenceFile), "\(level): rewritten bytes")
            // Adding after a read grows the graph on the fast code too.
            try loaded.add(ids: [7], vectors: row(base, 0, d))
            XCTAssertEqual(loaded.count, n + 1)
        }
    }

    func testHNSWOnUnitVectorsMatchesFAISSOwnCodeToRounding() throws {
        let n = 1_200, d = 48, nq = 40
        let base = unitVectors(n, d, seed: 31), queries = unitVectors(nq, d, seed: 32)
        let params = SearchParameters(efSearch: 64)
        let expected = try buildHNSW(base, n, d, level: .faiss).search(queries, count: nq, k: 10, parameters: params)
        let truth = (0..<nq).map { bruteForce(base, ids: sparseIDs(n), query: queries[($0 * d)..<(($0 + 1) * d)], k: 10) }
        for level in fastLevels {
            let got = try buildHNSW(base, n, d, level: level).search(queries, count: nq, k: 10, parameters: params)
            // Distances differ from FAISS's scalar sums only in rounding, so a decision can flip
            // only on a near-tie: nearly every row is the same, and recall is the same.
            let same = zip(got, expected).filter { $0.map(\.id) == $1.map(\.id) }.count
            XCTAssertGreaterThanOrEqual(same, nq - 2, "\(level)")
            XCTAssertEqual(recall(got, truth), recall(expected, truth), accuracy: 0.01, "\(level)")
            for (g, e) in zip(got, expected) where g.map(\.id) == e.map(\.id) {
                for (a, b) in zip(g, e) { XCTAssertEqual(a.score, b.score, accuracy: 1e-5) }
            }
        }
    }

    func testPruneHeadroomDefaultsToLaterFAISSAndClamps() {
        // The value the process starts with (setUp saw it before any test changed it).
        XCTAssertEqual(savedHeadroom, 0.2)
        XCTAssertEqual(VectorIndex.setHNSWPruneHeadroom(0.1), 0.1)
        XCTAssertEqual(VectorIndex.hnswPruneHeadroom, 0.1)
        XCTAssertEqual(VectorIndex.setHNSWPruneHeadroom(-1), 0)
        XCTAssertEqual(VectorIndex.setHNSWPruneHeadroom(0.9), 0.5)
        XCTAssertEqual(VectorIndex.setHNSWPruneHeadroom(.nan), 0)
        XCTAssertEqual(VectorIndex.setHNSWPruneHeadroom(.infinity), 0.5)
    }

    /// Headroom 0.2 (later FAISS's rule, the shim's default) builds another graph than 1.7.3's rule,
    /// the same one at every level of the distance code, and searches as well.
    func testPruneHeadroomChangesTheGraphButNotItsRecall() throws {
        // Kestrel's HNSW plan (efConstruction 80), 5,000 vectors of equal norm in 512 dimensions:
        // there the pruning rule keeps more than 80% of many full lists' candidates (with fewer
        // vectors, unequal norms or a few dimensions the rule alone prunes further, and the
        // headroom changes nothing). Components +-1: every level computes the same distances
        // exactly, so one graph at the portable level and the best one.
        let n = 5_000, d = 512
        var rng = SeededRandom(seed: 61)
        let base = (0..<(n * d)).map { _ in Float(rng.next() & 1 == 0 ? -1 : 1) }
        func build(level: DistanceCode, headroom: Float, threads: Int, vectors: [Float], count: Int, dim: Int) throws -> VectorIndex {
            DistanceCode.set(level)
            VectorIndex.setThreadCount(threads)
            VectorIndex.setHNSWPruneHeadroom(headroom)
            let index = try VectorIndex.create(dimension: dim, factory: "hnsw", expectedCount: count)
            try index.add(ids: sparseIDs(count), vectors: vectors)
            return index
        }
        func bytes(_ index: VectorIndex, _ name: String) throws -> Data {
            let file = dir.appendingPathComponent(name)
            try index.save(to: file)
            return try Data(contentsOf: file)
        }
        let withHeadroom = try Set([DistanceCode.portable, DistanceCode.best]).sorted().map {
            try bytes(build(level: $0, headroom: 0.2, threads: 1, vectors: base, count: n, dim: d), "h-\($0).kidx")
        }
        XCTAssertEqual(Set(withHeadroom).count, 1, "headroom 0.2: one graph at every level")
        let without = try bytes(build(level: .best, headroom: 0, threads: 1, vectors: base, count: n, dim: d), "h0.kidx")
        XCTAssertNotEqual(withHeadroom[0], without, "headroom 0.2 pruned full lists further")
        XCTAssertEqual(without.count, withHeadroom[0].count, "same capacity: unused slots are -1")
        // On this data, where the headroom binds, headroom 0 is FAISS 1.7.3's own graph.
        let faissOwn = try bytes(build(level: .faiss, headroom: 0.2, threads: 1, vectors: base, count: n, dim: d), "faiss.kidx")
        XCTAssertEqual(faissOwn, without, "headroom 0 builds FAISS's own graph; FAISS's own code has no headroom")

        // Unit vectors, 2 threads (the build Kestrel runs): recall@10 against brute force as good
        // as under 1.7.3's rule, within a small margin.
        let m = 4_000, e = 128, nq = 100
        let unit = unitVectors(m, e, seed: 62), queries = unitVectors(nq, e, seed: 63)
        let truth = (0..<nq).map { bruteForce(unit, ids: sparseIDs(m), query: queries[($0 * e)..<(($0 + 1) * e)], k: 10) }
        var recalls: [Float: Double] = [:]
        for headroom: Float in [0, 0.2] {
            let index = try build(level: .best, headroom: headroom, threads: 2, vectors: unit, count: m, dim: e)
            let got = try index.search(queries, count: nq, k: 10, parameters: SearchParameters(efSearch: 64))
            recalls[headroom] = recall(got, truth)
        }
        XCTAssertGreaterThan(recalls[0]!, 0.5, "the graph searches: \(recalls)")
        XCTAssertGreaterThanOrEqual(recalls[0.2]!, recalls[0]! - 0.03, "recall@10 \(recalls)")
    }

    /// Short neighbour lists (HNSW4: 8 slots at level 0, 4 above) keep FAISS 1.7.3's rule at any
    /// headroom: the same graph as headroom 0, which is FAISS's own.
    func testShortNeighbourListsIgnoreTheHeadroom() throws {
        let n = 2_000, d = 64
        var rng = SeededRandom(seed: 71)
        let base = (0..<(n * d)).map { _ in Float(rng.next() & 1 == 0 ? -1 : 1) }
        func bytes(level: DistanceCode, headroom: Float, _ name: String) throws -> Data {
            DistanceCode.set(level)
            VectorIndex.setThreadCount(1)
            VectorIndex.setHNSWPruneHeadroom(headroom)
            let index = try VectorIndex.create(dimension: d, factory: "HNSW4,Flat")
            try index.add(ids: sparseIDs(n), vectors: base)
            let file = dir.appendingPathComponent(name)
            try index.save(to: file)
            return try Data(contentsOf: file)
        }
        let faissOwn = try bytes(level: .faiss, headroom: 0, "m4-faiss.kidx")
        XCTAssertEqual(try bytes(level: .best, headroom: 0.2, "m4-h02.kidx"), faissOwn)
        XCTAssertEqual(try bytes(level: .best, headroom: 0.5, "m4-h05.kidx"), faissOwn)
    }

    func testLargeFlatStorageMovesOntoHugePagesOnAddAndRead() throws {
        // Over 4 MB of codes: add and read-back move the rows into a fresh (huge-page) buffer.
        let n = 9_000, d = 128
        let base = unitVectors(n, d, seed: 51), queries = unitVectors(3, d, seed: 52)
        DistanceCode.set(.best)
        for factory in ["Flat", "HNSW16,Flat"] {
            let index = try VectorIndex.create(dimension: d, factory: factory)
            try index.add(ids: Array(sparseIDs(n)[0..<4_000]), vectors: Array(base[0..<(4_000 * d)]))
            try index.add(ids: Array(sparseIDs(n)[4_000...]), vectors: Array(base[(4_000 * d)...]))
            // Searched before saving: an HNSW search stores its efSearch in the graph (cfaiss.cpp).
            let a = try index.search(queries, count: 3, k: 10)
            let file = dir.appendingPathComponent("\(factory).kidx")
            try index.save(to: file)
            let loaded = try VectorIndex.load(from: file)
            XCTAssertTrue(loaded.usesFastStorage)
            for r in [0, 3_999, 4_000, n - 1] {
                XCTAssertEqual(try loaded.reconstruct(id: sparseIDs(n)[r]), row(base, r, d), "\(factory) row \(r)")
            }
            let b = try loaded.search(queries, count: 3, k: 10)
            XCTAssertEqual(a.map { $0.map(\.id) }, b.map { $0.map(\.id) }, factory)
            let resaved = dir.appendingPathComponent("\(factory)-2.kidx")
            try loaded.save(to: resaved)
            XCTAssertEqual(try Data(contentsOf: resaved), try Data(contentsOf: file), factory)
        }
    }

    func testIVFQuantizerRunsOnFastStorageAndMatchesFAISS() throws {
        let n = 2_000, d = 32
        let base = unitVectors(n, d, seed: 41), queries = unitVectors(10, d, seed: 42)
        var results: [[[Int64]]] = []
        for level in [DistanceCode.faiss, DistanceCode.best] {
            DistanceCode.set(level)
            let index = try VectorIndex.create(dimension: d, factory: "IVF16,Flat")
            try index.train(sampleFrom: base, count: n)
            try index.add(ids: sparseIDs(n), vectors: base)
            XCTAssertEqual(index.usesFastStorage, level != .faiss)
            results.append(try index.search(queries, count: 10, k: 5, parameters: SearchParameters(nprobe: 4)).map { $0.map(\.id) })
        }
        XCTAssertEqual(results[0], results[1])
    }
}
