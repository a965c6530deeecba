import Foundation
import KestrelStore
import KestrelTestSupport
import XCTest

/// Issue 6, kind 7: the store never accepts a vector holding NaN or an infinity.
final class NonFiniteVectorTests: XCTestCase {
    func testKind7_NonFiniteVectorsAreRefusedAndNothingOfTheBatchIsStored() throws {
        var rng = SeededRandom(seed: 7)
        let (store, _) = try makeStore()
        defer { store.close() }
        for bad in [Float.nan, .infinity, -.infinity] {
            let good = FakeFile(&rng)
            var broken = FakeFile(&rng)
            broken.embedding[3] = bad
            XCTAssertThrowsError(try store.add([good.item("/a.jpg"), broken.item("/b.jpg")])) { error in
                XCTAssertTrue("\(error)".contains("/b.jpg") && "\(error)".contains("NaN or infinite"), "\(error)")
            }
            XCTAssertNil(try store.lookup(path: "/a.jpg"))
        }
        XCTAssertEqual(try store.allVectors().ids, [])
    }
}
