import CLMDB
import Foundation
import KestrelFiles
import KestrelStore
import KestrelTestSupport
import XCTest

/// Kind 5: the change log carries a running digest, so an index built from a copy of the store
/// that took other changes (same id, same sequence, same count) can be told apart.
final class Kind5LogChainTests: XCTestCase {
    func copy(_ url: URL, _ name: String) throws -> URL {
        let to = url.deletingLastPathComponent().appendingPathComponent(name)
        try FileManager.default.copyItem(at: url, to: to)
        return to
    }

    func testKind5_CopiesThatTookDifferentChangesHaveDifferentChains() throws {
        var rng = SeededRandom(seed: 5)
        let files = (0..<5).map { _ in FakeFile(&rng) }
        let (store, url) = try makeStore()
        _ = try store.add([files[0].item("/a"), files[1].item("/b"), files[2].item("/c")])
        let common = try XCTUnwrap(try store.logChain(at: 3))
        XCTAssertEqual(common.count, 64)
        store.close()
        let a = try Store.open(at: try copy(url, "a")), b = try Store.open(at: try copy(url, "b")), c = try Store.open(at: try copy(url, "c"))
        try a.removePaths(["/a"]); _ = try a.add([files[3].item("/d")])
        try b.removePaths(["/b"]); _ = try b.add([files[4].item("/e")])
        try c.removePaths(["/a"]); _ = try c.add([files[3].item("/d")])
        for s in [a, b, c] {
            XCTAssertEqual(try s.lastSequence, 5)
            XCTAssertEqual(try s.count, 3)
            XCTAssertEqual(try s.logChain(at: 3), common, "the history they share")
        }
        XCTAssertNotEqual(try a.logChain(at: 4), try b.logChain(at: 4))
        XCTAssertNotEqual(try a.logChain(at: 5), try b.logChain(at: 5))
        XCTAssertEqual(try a.logChain(at: 5), try c.logChain(at: 5), "the same changes give the same chain")
        XCTAssertNil(try a.logChain(at: 0))
        XCTAssertNil(try a.logChain(at: 6), "past the last change")
        XCTAssertEqual(try a.changes(since: 0).map(\.id), [1, 2, 3, 1, 4])
    }

    /// A store written before schema version 2 (9-byte log entries, no chain) is read as it is,
    /// and its next changes carry the chain.
    func testKind5_Version1LogEntriesStayReadable() throws {
        var rng = SeededRandom(seed: 55)
        let files = (0..<3).map { _ in FakeFile(&rng) }
        let (store, url) = try makeStore()
        _ = try store.add([files[0].item("/a"), files[1].item("/b")])
        store.close()
        // What an older Kestrel wrote: schema 1, log values of kind + id only.
        try rawRewrite(url) { put in
            try put("store", Array("schema_version".utf8), [1, 0, 0, 0])
            for seq in [1, 2] as [UInt8] { try put("log", [0, 0, 0, 0, 0, 0, 0, seq], [1, 0, 0, 0, 0, 0, 0, 0, seq]) }
        }
        let old = try Store.open(at: url, readOnly: true)
        XCTAssertEqual(try old.changes(since: 0).map(\.id), [1, 2])
        XCTAssertNil(try old.logChain(at: 2))
        old.close()
        let upgraded = try Store.open(at: url)
        _ = try upgraded.add([files[2].item("/c")])
        XCTAssertEqual(try upgraded.changes(since: 0).map(\.id), [1, 2, 3])
        XCTAssertNil(try upgraded.logChain(at: 2))
        XCTAssertEqual(try upgraded.logChain(at: 3)?.count, 64)
    }

}

extension XCTestCase {
    /// Puts raw values into named databases of a closed store, as another program could.
    func rawRewrite(_ url: URL, _ body: ((String, [UInt8], [UInt8]) throws -> Void) throws -> Void) throws {
        var env: OpaquePointer?, txn: OpaquePointer?
        XCTAssertEqual(mdb_env_create(&env), 0)
        XCTAssertEqual(mdb_env_set_maxdbs(env, 16), 0)
        XCTAssertEqual(mdb_env_open(env, url.path, 0, 0o644), 0)
        XCTAssertEqual(mdb_txn_begin(env, nil, 0, &txn), 0)
        try body { name, key, value in
            var dbi: MDB_dbi = 0
            XCTAssertEqual(mdb_dbi_open(txn, name, 0, &dbi), 0)
            var k = key, v = value
            k.withUnsafeMutableBytes { kb in
                v.withUnsafeMutableBytes { vb in
                    var kv = MDB_val(mv_size: kb.count, mv_data: kb.baseAddress)
                    var vv = MDB_val(mv_size: vb.count, mv_data: vb.baseAddress)
                    XCTAssertEqual(mdb_put(txn, dbi, &kv, &vv, 0), 0)
                }
            }
        }
        XCTAssertEqual(mdb_txn_commit(txn), 0)
        mdb_env_close(env)
    }
}
