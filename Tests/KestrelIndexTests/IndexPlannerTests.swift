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
}
