import Foundation
import KestrelIndex
import KestrelTestSupport
import XCTest

/// Kind 2: only index types that Kestrel can search are built. FAISS parses many factory
/// strings (NSG, Refine, LSH, fast-scan PQ...) whose search refuses the per-call parameters
/// and filters Kestrel passes; those are refused by the planner, before any FAISS call, with a
/// message that names `--index-type` and lists what is supported.
final class SupportedIndexTypesTests: XCTestCase {
    let d = 16

    func testKind2_UnsupportedIndexTypesAreRefusedBeforeBuilding() throws {
        let unsupported = ["NSG32,Flat", "NSG32", "IVF4,Flat,Refine(Flat)", "IVF4,PQ4,RFlat", "Flat,Refine(Flat)", "LSH",
                           "junk", "IVF4,PQ4x4fs", "PQ4x4fs", "IMI2x2,Flat", "IVF4,Flat,Flat", "HNSW8,IVF4", "Flat,Flat",
                           "OPQ4,OPQ4,IVF4,PQ4", "IDMap,Flat", "PQ4", "PQ4x4", "OPQ4,PQ4", "ITQ,LSH", "RR16,Flat", "IVF4,LSH", "HNSW8_PQ4"]
        for spec in unsupported {
            XCTAssertThrowsError(try IndexPlanner.validate(factory: spec, dimension: d), spec) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains("--index-type"), "\(spec): \(message)")
                XCTAssertTrue(message.contains("IVF1024,PQ64") && message.contains("HNSW32,Flat"),
                              "\(spec): the message should list what is supported: \(message)")
                XCTAssertFalse(message.contains("faiss::") || message.contains("Error in"), "\(spec): FAISS text leaked: \(message)")
                XCTAssertTrue(message.contains("'\(spec)'"), "\(spec): quoted as typed: \(message)")
            }
            XCTAssertThrowsError(try IndexPlanner.validate(factory: spec, dimension: nil), spec)
            XCTAssertThrowsError(try VectorIndex.create(dimension: d, factory: spec, expectedCount: 1_000), spec)
        }
    }

    /// Lower-case spellings of the supported forms mean the same index (FAISS itself only parses
    /// "Flat", "HNSW32", ...); the planner hands FAISS the canonical spelling.
    func testKind2_SpellingIsCanonicalised() throws {
        func f(_ s: String) throws -> String { try IndexPlanner.resolve(factory: s, count: 1_000, dimension: d).factory }
        XCTAssertEqual(try f("hnsw64"), "HNSW64,Flat")
        XCTAssertEqual(try f("hnsw8,flat"), "HNSW8,Flat")
        XCTAssertEqual(try f("ivf4,pq4x4"), "IVF4,PQ4x4")
        XCTAssertEqual(try f("ivf4,sqfp16"), "IVF4,SQfp16")
        XCTAssertEqual(try f("opq4,ivf4,pq4"), "OPQ4,IVF4,PQ4")
        XCTAssertEqual(try f(" Flat "), "Flat")
    }

    /// Every form the planner accepts builds, trains, adds, searches (plain, filtered, after
    /// removals) and round-trips through save / load.
    func testKind2_EverySupportedTypeCanBeSearched() throws {
        let n = 300  // enough to train every type below (OPQ and 8-bit PQ need 256)
        let base = unitVectors(n, d, seed: 11)
        let ids = sparseIDs(n)
        let supported = ["Flat", "HNSW8", "HNSW8,Flat", "HNSW8,SQ8", "HNSW8,SQ4", "HNSW8,SQfp16", "IVF4,Flat", "IVF4,SQ8", "IVF4,SQ6", "IVF4,SQfp16",
                         "IVF4,PQ4", "IVF4,PQ4x4", "IVF1,PQ4", "IVF4_HNSW8,Flat", "SQ8", "SQ4", "SQfp16",
                         "OPQ4,IVF4,PQ4", "OPQ4_16,IVF4,PQ4", "OPQ4,IVF1,PQ4", "OPQ4,Flat", "ivfpq", "hnsw"]
        for spec in supported {
            XCTAssertNoThrow(try IndexPlanner.validate(factory: spec, dimension: d), spec)
            let index = try VectorIndex.create(dimension: d, factory: spec, expectedCount: n)
            try index.train(sampleFrom: base, count: n)
            try index.add(ids: ids, vectors: base)
            let q = Array(base[0..<(5 * d)])
            let hits = try index.search(q, count: 5, k: 3)
            XCTAssertEqual(hits.map(\.count), [3, 3, 3, 3, 3], spec)
            let allowed = Set(ids[0..<10])
            let filtered = try index.search(q, count: 5, k: 3, allowedIDs: allowed)
            XCTAssertTrue(filtered.allSatisfy { $0.count == 3 && $0.allSatisfy { allowed.contains($0.id) } }, spec)
            // More than 4096 allowed ids: FAISS's own search with an id selector (smaller lists are ranked exactly).
            let bigAllowed = Set(ids).union((0..<5_000).map { Int64($0) })
            XCTAssertEqual(try index.search(q, count: 5, k: 3, allowedIDs: bigAllowed).map(\.count), [3, 3, 3, 3, 3], spec)
            XCTAssertEqual(try index.remove(ids: Array(ids[0..<50])), 50, spec)
            let after = try index.search(q, count: 5, k: 3)
            XCTAssertTrue(after.allSatisfy { $0.count == 3 && $0.allSatisfy { !ids[0..<50].contains($0.id) } }, spec)
            if !["Flat", "HNSW8", "HNSW8,Flat", "IVF4,Flat"].contains(spec) { continue }
            // Exact storage finds each vector itself first.
            let own = try index.search(Array(base[(100 * d)..<(101 * d)]), count: 1, k: 1,
                                       parameters: SearchParameters(nprobe: 4, efSearch: 64))
            XCTAssertEqual(own[0].first?.id, ids[100], spec)
        }
    }

    /// FAISS's k-means needs at least as many training points as centroids; the planner says
    /// how many a type needs so the caller can refuse in plain words.
    func testKind8_MinimumTrainingCountsAreKnown() {
        XCTAssertEqual(IndexPlanner.minimumTrainingCount(factory: "Flat"), 0)
        XCTAssertEqual(IndexPlanner.minimumTrainingCount(factory: "HNSW32,Flat"), 0)
        XCTAssertEqual(IndexPlanner.minimumTrainingCount(factory: "IVF801,Flat"), 801)
        XCTAssertEqual(IndexPlanner.minimumTrainingCount(factory: "IVF4,PQ4"), 256)
        XCTAssertEqual(IndexPlanner.minimumTrainingCount(factory: "IVF4,PQ4x4"), 16)
        XCTAssertEqual(IndexPlanner.minimumTrainingCount(factory: "IVF1000,PQ4x4"), 1000)
        XCTAssertEqual(IndexPlanner.minimumTrainingCount(factory: "IVF1,PQ8x10"), 1024)
        XCTAssertEqual(IndexPlanner.minimumTrainingCount(factory: "OPQ4,IVF4,PQ4x4"), 256)
        XCTAssertEqual(IndexPlanner.minimumTrainingCount(factory: "SQ8"), 1)
        // The training sample a type gets is never below its minimum when the store holds enough.
        for f in ["IVF801,Flat", "IVF4,PQ4", "IVF1,PQ8x16", "IVF4,PQ4x12", "OPQ4,IVF4,PQ4"] {
            let need = IndexPlanner.minimumTrainingCount(factory: f)
            XCTAssertGreaterThanOrEqual(IndexPlanner.trainingSampleSize(factory: f, count: 2_000_000), need, f)
        }
    }

    /// Kind 9 (a search must keep its promise): transforms that change the vectors make scores
    /// that are not cosines (PCA8,Flat scored an image against itself 0.26; whitening reordered
    /// neighbours), so they are refused before anything is built, naming the option.
    func testKind9_TransformsThatChangeScoresAreRefused() throws {
        for spec in ["PCA8,Flat", "PCAW8,HNSW16,Flat", "PCAR8,IVF4,SQ8", "PCAWR16,Flat", "OPQ4_8,IVF4,PQ4"] {
            XCTAssertThrowsError(try IndexPlanner.validate(factory: spec, dimension: d), spec) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains("--index-type"), message)
                XCTAssertTrue(message.contains("cosine"), message)
            }
        }
        // A rotation keeps inner products: OPQ at the full dimension scores an item against itself 1.
        let n = 300
        let base = unitVectors(n, d, seed: 5)
        let index = try VectorIndex.create(dimension: d, factory: "OPQ4,Flat", expectedCount: n)
        try index.train(sampleFrom: base, count: n)
        try index.add(ids: sparseIDs(n), vectors: base)
        let hit = try index.search(Array(base[0..<d]), count: 1, k: 1)[0][0]
        XCTAssertEqual(hit.score, 1, accuracy: 1e-4)
    }

}
