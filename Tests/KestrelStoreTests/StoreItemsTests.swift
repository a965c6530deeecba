import Foundation
import KestrelStore
import KestrelFiles
import KestrelTestSupport
import XCTest

final class StoreItemsTests: XCTestCase {
    func testFloat32RoundTripIsExact() throws {
        var rng = SeededRandom(seed: 10)
        let (store, _) = try makeStore()
        defer { store.close() }
        let files = (0..<20).map { _ in FakeFile(&rng) }
        let results = try store.add(files.enumerated().map { i, f in f.item("/img/\(i).jpg", mtime: Int64(i)) })
        XCTAssertEqual(results, (1...20).map { AddResult.added(id: UInt64($0)) })
        for (i, f) in files.enumerated() {
            let id = UInt64(i + 1)
            XCTAssertEqual(try store.vector(id: id), f.embedding)
            let item = try XCTUnwrap(try store.item(id: id))
            XCTAssertEqual(item.contentHash, f.hash)
            XCTAssertEqual(item.fileSize, 64)
            XCTAssertEqual(item.width, 640)
            XCTAssertEqual(item.height, 480)
            XCTAssertEqual(item.paths, ["/img/\(i).jpg"])
            let p = try XCTUnwrap(try store.lookup(path: "/img/\(i).jpg"))
            XCTAssertEqual(p.id, id)
            XCTAssertTrue(p.matches(fileSize: 64, mtimeNanoseconds: Int64(i)))
            XCTAssertFalse(p.matches(fileSize: 64, mtimeNanoseconds: Int64(i) + 1))
            XCTAssertEqual(try store.lookup(contentHash: f.hash)?.id, id)
            XCTAssertEqual(try store.lookup(contentHash: f.hash.uppercased())?.id, id)
        }
        XCTAssertNil(try store.vector(id: 99))
        XCTAssertNil(try store.item(id: 99))
        XCTAssertNil(try store.lookup(path: "/nope"))

        let all = try store.allVectors()
        XCTAssertEqual(all.ids, (1...20).map(UInt64.init))
        XCTAssertEqual(all.values, files.flatMap(\.embedding))
        var seen: [UInt64] = []
        try store.forEachVector { id, v in
            seen.append(id)
            XCTAssertEqual(v, files[Int(id) - 1].embedding)
        }
        XCTAssertEqual(seen, all.ids)
    }

    func testFloat16RoundTripWithinHalfPrecision() throws {
        var rng = SeededRandom(seed: 11)
        let (store, _) = try makeStore(storage: .float16)
        defer { store.close() }
        var file = FakeFile(&rng)
        // Normal values, a subnormal half, zero, negative zero, the largest value that rounds to
        // a finite half (a larger one is refused: see Kind4ItemRecordDecodingTests).
        file.embedding = [0.333333, -1.5, 1e-6, 0, -0.0, 65519, 65504, -2.4414062e-4]
        var other = FakeFile(&rng)
        other.embedding = rng.floats(8, scale: 4)
        _ = try store.add([file.item("/a"), other.item("/b")])
        let back = try XCTUnwrap(try store.vector(id: 1))
        XCTAssertEqual(back[1], -1.5)
        XCTAssertEqual(back[3], 0)
        XCTAssertEqual(back[4].sign, .minus)
        XCTAssertEqual(back[5], 65504)
        XCTAssertEqual(back[6], 65504)
        XCTAssertEqual(back[7], -2.4414062e-4)
        XCTAssertEqual(back[0], 0.333333, accuracy: 0.333333 * 0x1p-11)
        XCTAssertEqual(back[2], 1e-6, accuracy: 0x1p-25)
        let b = try XCTUnwrap(try store.vector(id: 2))
        for (x, y) in zip(b, other.embedding) { XCTAssertEqual(x, y, accuracy: abs(y) * 0x1p-11 + 0x1p-25) }
        #if !(os(macOS) && arch(x86_64))
        // Bit-identical to Swift's own round-to-nearest-even Float16.
        for (x, y) in zip(b + back, other.embedding + file.embedding) { XCTAssertEqual(x.bitPattern, Float(Float16(y)).bitPattern) }
        #endif
    }

    func testSameBytesAreStoredOnce() throws {
        var rng = SeededRandom(seed: 12)
        let (store, _) = try makeStore()
        defer { store.close() }
        let a = FakeFile(&rng)
        // Same bytes twice in one batch, and once more later without an embedding.
        XCTAssertEqual(try store.add([a.item("/one/a.png"), a.item("/two/a-copy.png")]), [.added(id: 1), .pathAdded(id: 1)])
        var noVector = a.item("/three/a.png")
        noVector.embedding = nil
        XCTAssertEqual(try store.add([noVector]), [.pathAdded(id: 1)])
        XCTAssertEqual(try store.count, 1)
        XCTAssertEqual(try store.pathCount, 3)
        XCTAssertEqual(try store.item(id: 1)?.paths, ["/one/a.png", "/two/a-copy.png", "/three/a.png"])
        XCTAssertEqual(try store.changes(since: 0), [Change(sequence: 1, kind: .added, id: 1)])
        // Adding the same path again changes nothing but the mtime.
        XCTAssertEqual(try store.add([a.item("/one/a.png", mtime: 5)]), [.unchanged(id: 1)])
        XCTAssertEqual(try store.lookup(path: "/one/a.png")?.mtimeNanoseconds, 5)
        XCTAssertEqual(try store.lastSequence, 1)
    }

    func testRemovingPathsRemovesTheItemWithItsLastPath() throws {
        var rng = SeededRandom(seed: 13)
        let (store, _) = try makeStore()
        defer { store.close() }
        let a = FakeFile(&rng), b = FakeFile(&rng)
        _ = try store.add([a.item("/a1"), a.item("/a2"), b.item("/b")])
        XCTAssertEqual(try store.removePaths(["/a1", "/not-there"]), [])
        XCTAssertEqual(try store.count, 2)
        XCTAssertEqual(try store.item(id: 1)?.paths, ["/a2"])
        XCTAssertNil(try store.lookup(path: "/a1"))
        XCTAssertEqual(try store.removePaths(["/a2"]), [1])
        XCTAssertNil(try store.item(id: 1))
        XCTAssertNil(try store.vector(id: 1))
        XCTAssertNil(try store.lookup(contentHash: a.hash))
        XCTAssertEqual(try store.count, 1)
        XCTAssertEqual(try store.paths(), ["/b"])
        // The bytes come back as a new item with a new id: ids are never reused.
        XCTAssertEqual(try store.add([a.item("/a3")]), [.added(id: 3)])
    }

    func testPathWhoseContentChangedMovesToTheNewContent() throws {
        var rng = SeededRandom(seed: 14)
        let (store, _) = try makeStore()
        defer { store.close() }
        let v1 = FakeFile(&rng), v2 = FakeFile(&rng), shared = FakeFile(&rng)
        _ = try store.add([v1.item("/photo.jpg"), shared.item("/other.jpg")])
        // The file was edited: the old item loses its only path and goes; a new item appears.
        XCTAssertEqual(try store.add([v2.item("/photo.jpg")]), [.contentChanged(previousID: 1, id: 3)])
        XCTAssertNil(try store.item(id: 1))
        XCTAssertEqual(try store.lookup(path: "/photo.jpg")?.contentHash, v2.hash)
        // Edited again, now to bytes the store already holds.
        XCTAssertEqual(try store.add([shared.item("/photo.jpg")]), [.contentChanged(previousID: 3, id: 2)])
        XCTAssertEqual(try store.item(id: 2)?.paths, ["/other.jpg", "/photo.jpg"])
        XCTAssertEqual(try store.count, 1)
        XCTAssertEqual(
            try store.changes(since: 0).map { [$0.sequence, UInt64($0.kind.rawValue), $0.id] },
            [[1, 1, 1], [2, 1, 2], [3, 2, 1], [4, 1, 3], [5, 2, 3]])
    }

    func testChangesSinceAreOrderedAndResumable() throws {
        var rng = SeededRandom(seed: 15)
        let (store, _) = try makeStore()
        defer { store.close() }
        XCTAssertEqual(try store.lastSequence, 0)
        XCTAssertEqual(try store.changes(since: 0), [])
        let files = (0..<6).map { _ in FakeFile(&rng) }
        _ = try store.add(files.enumerated().map { i, f in f.item("/\(i)") })
        try store.removePaths(["/2", "/4"])
        _ = try store.add([files[2].item("/2-again")])
        let all = try store.changes(since: 0)
        XCTAssertEqual(all.map(\.sequence), Array(1...9))
        XCTAssertEqual(all.map(\.kind), [.added, .added, .added, .added, .added, .added, .removed, .removed, .added])
        XCTAssertEqual(all.map(\.id), [1, 2, 3, 4, 5, 6, 3, 5, 7])
        XCTAssertEqual(try store.lastSequence, 9)
        XCTAssertEqual(try store.changes(since: 7), Array(all[7...]))
        XCTAssertEqual(try store.changes(since: 2, limit: 3), Array(all[2..<5]))
        XCTAssertEqual(try store.changes(since: 9), [])
    }

    /// A batch is one transaction: when its fourth item fails, the first three are not stored.
    func testBatchThatThrowsLeavesNothing() throws {
        var rng = SeededRandom(seed: 16)
        let (store, url) = try makeStore()
        defer { store.close() }
        let kept = FakeFile(&rng)
        _ = try store.add([kept.item("/kept")])
        let files = (0..<4).map { _ in FakeFile(&rng) }
        var batch = files.prefix(3).enumerated().map { i, f in f.item("/new\(i)") }
        batch.insert(kept.item("/kept-copy"), at: 1)
        var bad = files[3].item("/bad")
        bad.embedding = nil  // new content without a vector: found only inside the transaction
        batch.append(bad)
        XCTAssertEqual(storeError { _ = try store.add(batch) }, .missingEmbedding(store: url.path, path: "/bad"))

        var wrongSize = files[3].item("/bad")
        wrongSize.embedding = [1, 2, 3]
        XCTAssertNotNil(storeError { _ = try store.add(Array(batch.dropLast()) + [wrongSize]) })

        XCTAssertEqual(try store.count, 1)
        XCTAssertEqual(try store.paths(), ["/kept"])
        XCTAssertEqual(try store.item(id: 1)?.paths, ["/kept"])
        XCTAssertEqual(try store.lastSequence, 1)
        XCTAssertNil(try store.vector(id: 2))
        // The counters rolled back too: the next id is 2.
        XCTAssertEqual(try store.add([files[0].item("/new0")]), [.added(id: 2)])
    }

    func testMapGrowsWhenFull() throws {
        var rng = SeededRandom(seed: 17)
        let big = ModelIdentity(name: "big", fingerprint: "f", dimension: 512)
        let (store, url) = try makeStore(big, mapSize: 256 << 10)
        let before = store.mapSize
        // 400 vectors of 2 KiB: about 1 MiB of data into a 256 KiB map, in batches of 50.
        var expected: [[Float]] = []
        for batch in 0..<8 {
            let files = (0..<50).map { _ in FakeFile(&rng, dimension: 512) }
            expected += files.map(\.embedding)
            _ = try store.add(files.enumerated().map { i, f in f.item("/b\(batch)/\(i)") })
        }
        XCTAssertGreaterThan(store.mapSize, before)
        XCTAssertEqual(try store.count, 400)
        store.close()
        let again = try Store.open(at: url, initialMapSize: 256 << 10)
        defer { again.close() }
        let all = try again.allVectors()
        XCTAssertEqual(all.ids.count, 400)
        XCTAssertEqual(all.values, expected.flatMap { $0 })
    }

    /// Readers on several threads while a writer fills a tiny map (which must grow under them).
    func testConcurrentReadersAndAGrowingWriter() throws {
        let big = ModelIdentity(name: "big", fingerprint: "f", dimension: 256)
        let (store, _) = try makeStore(big, mapSize: 128 << 10)
        defer { store.close() }
        let failures = LockedCount()
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            do {
                if worker == 0 {
                    var rng = SeededRandom(seed: 99)
                    for batch in 0..<10 {
                        let files = (0..<20).map { _ in FakeFile(&rng, dimension: 256) }
                        _ = try store.add(files.enumerated().map { i, f in f.item("/w\(batch)/\(i)") })
                    }
                } else {
                    for _ in 0..<30 {
                        let all = try store.allVectors()
                        // A snapshot is whole batches: never half of one.
                        if all.ids.count % 20 != 0 || all.values.count != all.ids.count * 256 { failures.add() }
                    }
                }
            } catch {
                failures.add()
            }
        }
        XCTAssertEqual(failures.value, 0)
        XCTAssertEqual(try store.count, 200)
    }

    func testMetadata() throws {
        var rng = SeededRandom(seed: 18)
        let (store, url) = try makeStore()
        defer { store.close() }
        let a = FakeFile(&rng)
        _ = try store.add([a.item("/a", metadata: "{\"label\":\"cat\"}")])
        XCTAssertEqual(try store.item(id: 1)?.metadata, "{\"label\":\"cat\"}")
        try store.setMetadata(id: 1, json: "[1,2]")
        XCTAssertEqual(try store.item(id: 1)?.metadata, "[1,2]")
        try store.setMetadata(id: 1, json: nil)
        XCTAssertNil(try store.item(id: 1)?.metadata)
        guard case .invalidMetadata = storeError({ try store.setMetadata(id: 1, json: "{not json") }) else {
            return XCTFail("expected invalidMetadata")
        }
        XCTAssertEqual(storeError { try store.setMetadata(id: 42, json: "{}") }, .noSuchItem(store: url.path, id: 42))
    }

    func testBadInputsAreClearErrors() throws {
        var rng = SeededRandom(seed: 19)
        let (store, url) = try makeStore()
        defer { store.close() }
        var a = FakeFile(&rng).item("/a")
        a.contentHash = "abc"
        XCTAssertEqual(storeError { _ = try store.add([a]) }, .invalidContentHash(store: url.path, path: "/a", hash: "abc"))
        let long = FilePathBytes("/" + String(repeating: "x", count: 600))
        guard case .invalidPath = storeError({ _ = try store.add([FakeFile(&rng).item(long)]) }) else {
            return XCTFail("expected invalidPath")
        }
        guard case .invalidPath = storeError({ _ = try store.add([FakeFile(&rng).item("")]) }) else {
            return XCTFail("expected invalidPath")
        }
        guard case .invalidContentHash = storeError({ _ = try store.lookup(contentHash: String(repeating: "g", count: 64)) })
        else { return XCTFail("expected invalidContentHash") }
        XCTAssertEqual(try store.add([]), [])
        XCTAssertEqual(try store.count, 0)
        XCTAssertEqual(try store.lastSequence, 0)
    }

    func testMetaArea() throws {
        let (store, _) = try makeStore()
        defer { store.close() }
        XCTAssertNil(try store.meta(key: "index.settings"))
        try store.setMeta(key: "index.settings", value: Data("{\"nlist\":64}".utf8))
        try store.setMeta(key: "empty", value: Data())
        XCTAssertEqual(try store.meta(key: "index.settings"), Data("{\"nlist\":64}".utf8))
        XCTAssertEqual(try store.meta(key: "empty"), Data())
        try store.setMeta(key: "index.settings", value: nil)
        XCTAssertNil(try store.meta(key: "index.settings"))
        XCTAssertEqual(try store.metaKeys(), ["empty"])
    }
}
