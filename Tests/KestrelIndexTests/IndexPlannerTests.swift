import KestrelIndex
import XCTest

final class IndexPlannerTests: XCTestCase {
    func testChoicesBySize() {
        XCTAssertEqual(IndexPlanner.plan(count: 1_000, dimension: 512).factory, "Flat")
        XCTAssertEqual(IndexPlanner.plan(count: 49_999, dimension: 512).factory, "Flat")
        XCTAssertEqual(IndexPlanner.plan(count: 100_000, dimension: 512).factory, "HNSW32,Flat")
        XCTAssertEqual(IndexPlanner.plan(count: 999_999, dimension: 512).factory, "HNSW32,Flat")
        let large = IndexPlanner.plan(count: 5_000_000, dimension: 512)
        XCTAssertEqual(large.factory, "IVF8944,Flat")  // 4 sqrt(5M)
        XCTAssertEqual(large.defaultParameters.nprobe, 279)
        XCTAssertEqual(IndexPlanner.plan(count: 0, dimension: 512).factory, "Flat")
    }

    func testMemoryBudgetPicksCompressedCodes() {
        // 5M x 512 floats is 10 GB; SQ8 is ~2.8 GB; PQ is far smaller.
        XCTAssertEqual(IndexPlanner.plan(count: 5_000_000, dimension: 512, memoryBudget: 4_000_000_000).factory, "IVF8944,SQ8")
        XCTAssertEqual(IndexPlanner.plan(count: 5_000_000, dimension: 512, memoryBudget: 1_500_000_000).factory, "IVF8944,PQ128")
        XCTAssertEqual(IndexPlanner.plan(count: 5_000_000, dimension: 512, memoryBudget: 1_000_000_000).factory, "IVF8944,PQ64")
        XCTAssertEqual(IndexPlanner.plan(count: 5_000_000, dimension: 512, memoryBudget: 600_000_000).factory, "IVF8944,PQ16")
        XCTAssertEqual(IndexPlanner.plan(count: 40_000, dimension: 512, memoryBudget: 30_000_000).factory, "SQ8")
        // Mid size that does not fit a graph: IVF instead.
        XCTAssertEqual(IndexPlanner.plan(count: 500_000, dimension: 512, memoryBudget: 1_200_000_000).factory, "IVF2828,Flat")
        let plan = IndexPlanner.plan(count: 500_000, dimension: 512, memoryBudget: 1_200_000_000)
        XCTAssertLessThanOrEqual(plan.estimatedBytes, 1_200_000_000)
        XCTAssertTrue(plan.reason.contains("memory budget"), plan.reason)
    }

    func testAliasesAndExplicitStrings() throws {
        func f(_ s: String, _ n: Int? = 100_000) throws -> String { try IndexPlanner.resolve(factory: s, count: n, dimension: 512).factory }
        XCTAssertEqual(try f("flat"), "Flat")
        XCTAssertEqual(try f("hnsw"), "HNSW32,Flat")
        XCTAssertEqual(try f("HNSW"), "HNSW32,Flat")
        XCTAssertEqual(try f("HNSW48"), "HNSW48,Flat")
        XCTAssertEqual(try f("ivf"), "IVF1265,Flat")
        XCTAssertEqual(try f("ivfpq"), "IVF1265,PQ64")
        XCTAssertEqual(try f("sq8"), "SQ8")
        for explicit in ["Flat", "HNSW32,Flat", "IVF1024,Flat", "IVF1024,PQ64", "SQ8"] {
            XCTAssertEqual(try f(explicit), explicit)
            XCTAssertNoThrow(try VectorIndex.create(dimension: 512, factory: explicit), explicit)
        }
        XCTAssertThrowsError(try f("ivf", nil))  // needs the collection size
    }

    func testTrainingSampleSizesFollowFaissGuidance() {
        XCTAssertEqual(IndexPlanner.ivfListCount(for: 100_000), 1265)
        XCTAssertEqual(IndexPlanner.ivfListCount(for: 10_000), 256)  // n / 39 cap
        for n in [10_000, 100_000, 5_000_000] {
            let nlist = IndexPlanner.ivfListCount(for: n)
            let sample = IndexPlanner.trainingSampleSize(factory: "IVF\(nlist),Flat", count: n)
            XCTAssertGreaterThanOrEqual(sample, min(n, 39 * nlist))
            XCTAssertLessThanOrEqual(sample, min(n, 256 * nlist))
        }
        XCTAssertEqual(IndexPlanner.trainingSampleSize(factory: "IVF1024,PQ64", count: 10_000_000), 51_200)
        XCTAssertEqual(IndexPlanner.trainingSampleSize(factory: "IVF16,PQ64", count: 10_000_000), 9_984)  // PQ codebooks
        XCTAssertEqual(IndexPlanner.trainingSampleSize(factory: "HNSW32,Flat", count: 10_000), 0)
        XCTAssertEqual(IndexPlanner.trainingSampleSize(factory: "Flat", count: 10_000), 0)
    }

    /// Kind 2: the numbers in a factory string are checked before any FAISS call (HNSW0 used to
    /// segfault inside FAISS in release builds), and the message names the option and the string.
    func testKind2_factoryNumbersAreCheckedBeforeFaiss() throws {
        continueAfterFailure = false
        let bad = ["HNSW0", "HNSW1", "HNSW0,Flat", "HNSW99999999999999999999", "HNSW5000,Flat", "IVF0,Flat", "IVF0,PQ4",
                   "IVF99999999999999999999,Flat", "IVF4,PQ0", "IVF4,PQ7", "IVF4,PQ4x0", "IVF4,PQ4x99", "PQ0", "PQ5",
                   "OPQ0,IVF4,PQ4", "PCA0,Flat", "PCA64,Flat", "IVF4_HNSW0,Flat"]
        for spec in bad {
            XCTAssertThrowsError(try IndexPlanner.resolve(factory: spec, count: 1_000, dimension: 16), spec) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(spec), "\(spec): \(message)")
                XCTAssertTrue(message.contains("--index-type"), "\(spec): \(message)")
            }
            XCTAssertThrowsError(try IndexPlanner.validate(factory: spec, dimension: 16), spec)
            XCTAssertThrowsError(try VectorIndex.create(dimension: 16, factory: spec, expectedCount: 1_000), spec)
            var plan = IndexPlanner.plan(count: 10, dimension: 16)
            plan.factory = spec
            XCTAssertThrowsError(try VectorIndex.create(dimension: 16, plan: plan), spec)
        }
        // Without a dimension, only the dimension-free checks apply.
        XCTAssertNoThrow(try IndexPlanner.validate(factory: "IVF4,PQ7", dimension: nil))
        XCTAssertThrowsError(try IndexPlanner.validate(factory: "HNSW0", dimension: nil))
        // Good strings, aliases and the planner's own choices still pass and build.
        for good in ["Flat", "HNSW2", "HNSW32,Flat", "HNSW16,SQ8", "IVF4,Flat", "IVF4,PQ4", "IVF4,PQ8x4", "IVF1,PQ4", "SQ8",
                     "SQfp16", "OPQ4,IVF4,PQ4", "IVF4_HNSW8,Flat", "auto", "flat", "hnsw", "ivf", "ivfpq", "sq8"] {
            XCTAssertNoThrow(try IndexPlanner.validate(factory: good, dimension: 16), good)
            if good != "auto" {
                XCTAssertNoThrow(try VectorIndex.create(dimension: 16, factory: good, expectedCount: 1_000), good)
            }
        }
        for n in [0, 100, 60_000, 2_000_000] {
            for budget in [nil, 1_000_000] as [Int?] {
                let plan = IndexPlanner.plan(count: n, dimension: 512, memoryBudget: budget)
                XCTAssertNoThrow(try IndexPlanner.validate(factory: plan.factory, dimension: 512), plan.factory)
            }
        }
    }

    /// Kind 2 / kind 3: a k far above the index size is clamped, not used to size buffers;
    /// k < 1 and search parameters < 1 are errors.
    func testKind2_searchClampsKAndChecksParameters() throws {
        let index = try VectorIndex.create(dimension: 8, factory: "Flat")
        let ids = sparseIDs(6)
        try index.add(ids: ids, vectors: unitVectors(6, 8, seed: 3))
        let query = unitVectors(1, 8, seed: 4)
        for k in [6, 7, 1_000_000_000_000, Int.max] {
            let hits = try index.search(query, count: 1, k: k)[0]
            XCTAssertEqual(Set(hits.map(\.id)), Set(ids), "k = \(k)")
        }
        XCTAssertThrowsError(try index.search(query, count: 1, k: 0))
        XCTAssertThrowsError(try index.search(query, count: 1, k: -5))
        let hnsw = try VectorIndex.create(dimension: 8, factory: "HNSW8,Flat")
        try hnsw.add(ids: ids, vectors: unitVectors(6, 8, seed: 3))
        XCTAssertEqual(try hnsw.search(query, count: 1, k: Int.max)[0].count, 6)
        for bad in [SearchParameters(efSearch: 0), SearchParameters(efSearch: -1), SearchParameters(nprobe: 0),
                    SearchParameters(efSearch: Int(Int32.max) + 1)] {
            XCTAssertThrowsError(try hnsw.search(query, count: 1, k: 3, parameters: bad), "\(bad)")
        }
    }
}
