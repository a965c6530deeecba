import Foundation
import KestrelEngine
import KestrelTestSupport
import XCTest

/// Kind 8 / kind 12: an index type is remembered only once an index of that type was built and
/// searched; one that cannot be built leaves the catalog as it was, says why in plain words, and
/// a catalog wedged by a bad type that an older build remembered recovers by itself.
final class IndexTypeLifecycleTests: XCTestCase {
    let dimension = 16
    let identity = ModelIdentity(name: "test-model", fingerprint: "abc", dimension: 16)

    final class Warnings: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func add(_ s: String) { lock.withLock { lines.append(s) } }
        var all: [String] { lock.withLock { lines } }
    }

    func folder() -> URL {
        let dir = Fixtures.temporaryDirectory("kestrel-lifecycle").appendingPathComponent("ix")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        return dir
    }

    func vectors(_ n: Int, seed: UInt64) -> [[Float]] {
        var rng = SeededRandom(seed: seed)
        return (0..<n).map { _ in
            let v = (0..<dimension).map { _ in Float(Double(rng.next() >> 11) / Double(1 << 53)) - 0.5 }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return v.map { $0 / norm }
        }
    }

    /// IVF801 over 800 vectors cannot be trained: the error says so (and not that the store may be
    /// damaged), the spec is not remembered and the index in place is untouched.
    func testKind8_AFailedIndexTypeIsNeverSaved() throws {
        let dir = folder()
        do {
            let catalog = try Catalog.openForWriting(dir, identity: identity, modelPath: "/models/test", orientation: .exif)
            try add(catalog, vectors(800, seed: 1), from: 0)
            try catalog.rebuildIndex(spec: "hnsw")
            XCTAssertEqual(catalog.index.factory, "HNSW32,Flat")
            let before = try Data(contentsOf: dir.appendingPathComponent("index.faiss"))
            XCTAssertThrowsError(try catalog.rebuildIndex(spec: "IVF801,Flat")) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains("IVF801") && message.contains("801") && message.contains("800"), message)
                XCTAssertTrue(message.contains("--index-type"), message)
                XCTAssertFalse(message.contains("damaged"), message)
            }
            XCTAssertEqual(catalog.indexSpec, "hnsw")
            XCTAssertEqual(catalog.index.factory, "HNSW32,Flat")
            XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("index.faiss")), before)
        }
        // The same through a spec given when opening (what `index add --index-type` does): the
        // ingest's closing rebuild fails, and nothing of the type is remembered.
        do {
            let again = try Catalog.openForWriting(dir, identity: identity, modelPath: "/models/test", orientation: .exif,
                                                   indexSpec: "IVF900,Flat")
            XCTAssertThrowsError(try again.rebuildIndex())
        }
        let reopened = try Catalog.open(dir, writable: true)
        XCTAssertEqual(reopened.indexSpec, "hnsw")
        XCTAssertEqual(try reopened.rebuildIndex().factory, "HNSW32,Flat")
        // A type that builds is remembered after the build.
        XCTAssertEqual(try reopened.rebuildIndex(spec: "IVF8,Flat").factory, "IVF8,Flat")
        XCTAssertEqual(try Catalog.open(dir).indexSpec, "IVF8,Flat")
    }

    /// Older builds saved the spec before building: a catalog holding an unusable spec (one FAISS
    /// cannot parse, one Kestrel cannot search, one that needs more vectors than the store holds)
    /// warns and builds the automatic choice instead of failing every later command.
    func testKind12_ACatalogWedgedByAStoredBadSpecRecovers() throws {
        for bad in ["junk", "NSG32,Flat", "IVF4,Flat,Refine(Flat)", "IVF5000,Flat"] {
            let dir = folder()
            do {
                let catalog = try Catalog.openForWriting(dir, identity: identity, modelPath: "/models/test", orientation: .exif)
                try add(catalog, vectors(300, seed: 2), from: 0)
                try catalog.store.setMeta(key: "kestrel.index_spec", value: Data(bad.utf8))  // as an older build left it
            }
            let warnings = Warnings()
            let reopened = try Catalog.open(dir, writable: true, warn: { warnings.add($0) })
            let report = try reopened.rebuildIndex()
            XCTAssertEqual(report.factory, "Flat", bad)
            XCTAssertTrue(warnings.all.contains { $0.contains(bad) && $0.contains("--index-type") }, "\(bad): \(warnings.all)")
            try add(reopened, vectors(20, seed: 3), from: 300)
            XCTAssertEqual(reopened.index.count, 320, bad)
            // An unusable record is cleared by the build that replaced it; a type that only needs
            // more vectors is kept for when the store has them.
            let stored = try reopened.store.meta(key: "kestrel.index_spec").map { String(decoding: $0, as: UTF8.self) }
            XCTAssertEqual(stored, bad.hasPrefix("IVF5000") ? bad : nil, bad)
        }
    }
}
