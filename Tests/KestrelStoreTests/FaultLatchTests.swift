import Foundation
import KestrelStore
import KestrelTestSupport
import XCTest

/// Kind 4 in a long-running process (the HTTP service): once an LMDB call has faulted (here a
/// SIGBUS: data.mdb was cut short under an open store), LMDB's state in the process cannot be
/// trusted, so that call is damage and every later call on the same `Store` refuses too.
final class Kind4FaultLatchTests: XCTestCase {
    func testKind4_AfterAFaultTheStoreRefusesEveryLaterCall() throws {
        let (store, url) = try makeStore()
        var rng = SeededRandom(seed: 7)
        let files = (0..<300).map { _ in FakeFile(&rng) }
        _ = try store.add(files.enumerated().map { i, f in f.item("/images/\(i).png") })
        XCTAssertEqual(try store.count, 300)
        // Another process cuts data.mdb to its two meta pages while this one has it mapped.
        let data = url.appendingPathComponent("data.mdb").path
        XCTAssertEqual(truncate(data, 8192), 0)
        XCTAssertThrowsError(try store.allVectors()) { error in
            XCTAssertTrue("\(error)".contains("damaged"), "\(error)")
        }
        XCTAssertThrowsError(try store.count) { error in
            XCTAssertTrue("\(error)".contains("earlier read of it faulted"), "\(error)")
        }
        XCTAssertThrowsError(try store.item(id: 1)) { error in
            XCTAssertTrue("\(error)".contains("earlier read of it faulted"), "\(error)")
        }
    }
}
