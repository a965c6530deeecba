@testable import KestrelGrounding
import XCTest

/// The query-embedding cache keeps the most recently used queries, whichever way it is filled.
final class QueryCacheTests: XCTestCase {
    func testLeastRecentlyUsedKeyIsEvictedByStore() {
        let cache = QueryCache(capacity: 2)
        cache.store("a", [1]); cache.store("b", [2])
        XCTAssertEqual(cache.cached("a"), [1])          // a is now the most recent
        cache.store("c", [3])                           // evicts b
        XCTAssertNil(cache.cached("b"))
        XCTAssertEqual(cache.cached("a"), [1])
        XCTAssertEqual(cache.cached("c"), [3])
        XCTAssertEqual(cache.keys.count, 2)
        cache.store("a", [4])                           // replacing keeps the size and makes a the most recent
        XCTAssertEqual(cache.cached("a"), [4])
        XCTAssertEqual(cache.keys, ["c", "a"])
        XCTAssertEqual(cache.statistics.misses, 1)
        XCTAssertEqual(cache.statistics.hits, 4)
    }

    func testEmbeddingForMakesOnceAndEvictsTheLeastRecent() throws {
        let cache = QueryCache(capacity: 2)
        var made = 0
        func get(_ k: String) -> [Float] { cache.embedding(for: k) { made += 1; return [Float(k.count)] } }
        _ = get("x"); _ = get("yy"); _ = get("x")           // x made once, now the most recent
        XCTAssertEqual(made, 2)
        _ = get("zzz")                                       // evicts yy
        XCTAssertEqual(cache.keys, ["x", "zzz"])
        XCTAssertEqual(get("yy"), [2])
        XCTAssertEqual(made, 4)
        struct Failure: Error {}
        XCTAssertThrowsError(try cache.embedding(for: "bad") { throw Failure() })
        XCTAssertFalse(cache.keys.contains("bad"))          // a failed make stores nothing
    }
}
