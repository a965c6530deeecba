import CLMDB
import KestrelStore
import KestrelTestSupport
import XCTest

/// Kind 6 at the store level: creation is atomic, and what a crash inside an older, non-atomic
/// creation left (an environment with no database in it) is replaced, while real stores are not.
final class Kind6StoreCreationTests: XCTestCase {
    func testKind6_EmptyEnvironmentIsReplacedByCreate() throws {
        let url = temporaryFolder().appendingPathComponent("catalog")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        var env: OpaquePointer?
        XCTAssertEqual(mdb_env_create(&env), 0)
        XCTAssertEqual(mdb_env_open(env, url.path, 0, 0o644), 0)
        mdb_env_close(env)
        XCTAssertTrue(Store.isEmptyEnvironment(at: url))
        let store = try Store.create(at: url, identity: testModel)
        XCTAssertEqual(try store.count, 0)
        XCTAssertNotNil(store.storeID)
        store.close()
        XCTAssertFalse(Store.isEmptyEnvironment(at: url))
        XCTAssertEqual(storeError { _ = try Store.create(at: url, identity: testModel) }, .alreadyExists(store: url.path))
        // Nothing is left next to it.
        let siblings = try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)
        XCTAssertEqual(siblings, ["catalog"])
    }

    func testKind5_StoresGetDistinctIDsThatSurviveReopening() throws {
        let (a, urlA) = try makeStore()
        let (b, _) = try makeStore()
        let idA = try XCTUnwrap(a.storeID), idB = try XCTUnwrap(b.storeID)
        XCTAssertNotEqual(idA, idB)
        a.close()
        XCTAssertEqual(try Store.open(at: urlA).storeID, idA)
        XCTAssertEqual(try Store.open(at: urlA, readOnly: true).storeID, idA)
    }

    func testReadOnlyStoreRefusesWrites() throws {
        let (store, url) = try makeStore()
        store.close()
        let ro = try Store.open(at: url, readOnly: true)
        XCTAssertTrue(ro.isReadOnly)
        guard case .readOnly? = storeError({ try ro.setMeta(key: "k", value: Data([1])) }) else {
            return XCTFail("expected readOnly")
        }
    }
}
