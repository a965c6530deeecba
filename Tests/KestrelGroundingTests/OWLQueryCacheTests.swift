@testable import KestrelGrounding
import XCTest

/// The text-embedding cache keeps the most recently used texts.
final class OWLQueryCacheTests: XCTestCase {
    func testLeastRecentlyUsedTextIsEvicted() {
        let cache = OWLQueryCache(capacity: 2)
        cache.put("a", [1]); cache.put("b", [2])
        XCTAssertEqual(cache.get("a"), [1])          // a is now the most recent
        cache.put("c", [3])                           // evicts b
        XCTAssertNil(cache.get("b"))
        XCTAssertEqual(cache.get("a"), [1])
        XCTAssertEqual(cache.get("c"), [3])
        XCTAssertEqual(cache.count, 2)
        cache.put("a", [4])                           // replacing keeps the size
        XCTAssertEqual(cache.get("a"), [4])
        XCTAssertEqual(cache.count, 2)
        XCTAssertEqual(cache.statistics.misses, 1)
    }
}
