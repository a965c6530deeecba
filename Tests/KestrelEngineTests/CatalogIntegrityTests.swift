import Foundation
import KestrelEngine
import KestrelTestSupport
import XCTest

/// A catalog over random vectors (no model needed): the store and index layers as the CLI uses them.
final class CatalogIntegrityTests: XCTestCase {
    let dimension = 16
    let identity = ModelIdentity(name: "test-model", fingerprint: "abc", dimension: 16)

    func folder() -> URL {
        let dir = Fixtures.temporaryDirectory("kestrel-catalog").appendingPathComponent("ix")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        return dir
    }

    /// Clustered unit vectors (as image embeddings are): `clusters` centres plus noise.
    func vectors(_ n: Int, seed: UInt64) -> [[Float]] {
        var rng = SeededRandom(seed: seed)
        func gaussian() -> Float {
            let a = Double(rng.next() >> 11 + 1) / Double(1 << 53), b = Double(rng.next() >> 11) / Double(1 << 53)
            return Float((-2 * log(a)).squareRoot() * cos(2 * Double.pi * b))
        }
        let centres = (0..<8).map { _ in (0..<dimension).map { _ in gaussian() } }
        return (0..<n).map { i in
            let c = centres[i % centres.count]
            return unit(c.map { $0 + 0.8 * gaussian() })
        }
    }

    func unit(_ v: [Float]) -> [Float] {
        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return v.map { $0 / n }
    }

    func open(_ dir: URL, spec: String? = nil) throws -> Catalog {
        try Catalog.openForWriting(dir, identity: identity, modelPath: "/models/test", orientation: .exif, indexSpec: spec)
    }

    // MARK: - Kind 5

    /// An index file of another dimension is rebuilt from the store, not an error that wedges
    /// every command.
    func testKind5_IndexOfAnotherDimensionIsRebuilt() throws {
        let dir = folder()
        var catalog: Catalog? = try open(dir)
        try add(catalog!, vectors(20, seed: 1), from: 0)
        catalog = nil
        let other = try VectorIndex.create(dimension: 8, factory: "Flat")
        try other.add(ids: [1, 2, 3], vectors: [Float](repeating: 0.5, count: 24))
        try other.save(to: Catalog.indexURL(dir))
        let reopened = try Catalog.open(dir)
        XCTAssertEqual(reopened.index.dimension, dimension)
        XCTAssertEqual(reopened.index.count, 20)
        let hits = try reopened.search(vector: vectors(20, seed: 1)[3], options: SearchOptions(k: 1))
        XCTAssertEqual(hits.first?.id, 4)
    }

    // MARK: - Kind 9

    /// An HNSW index tuned over 12 vectors is tuned again as it grows to 800: its recall on
    /// text-like queries (directions away from the data) stays at the target, and the recall it
    /// reports is the one it has now.
    func testKind9_TuningFollowsTheIndexAsItGrows() throws {
        let dir = folder()
        let catalog = try open(dir, spec: "hnsw")
        let all = vectors(800, seed: 9)
        try add(catalog, Array(all[0..<12]), from: 0)
        try catalog.rebuildIndex()
        XCTAssertEqual(catalog.index.factory, "HNSW32,Flat")
        for start in stride(from: 12, to: 800, by: 50) {
            try add(catalog, Array(all[start..<min(start + 50, 800)]), from: start)
        }
        let index = catalog.index
        XCTAssertEqual(index.count, 800)
        // Text-like queries: random directions, and mixes of two stored vectors.
        var rng = SeededRandom(seed: 99)
        var queries: [[Float]] = []
        for _ in 0..<100 { queries.append(unit((0..<dimension).map { _ in Float.random(in: -1...1, using: &rng) })) }
        for _ in 0..<100 {
            let a = all[Int.random(in: 0..<800, using: &rng)], b = all[Int.random(in: 0..<800, using: &rng)]
            queries.append(unit(zip(a, b).map { $0 + $1 }))
        }
        var found = 0
        for q in queries {
            let scores: [Float] = all.map { v in zip(v, q).map(*).reduce(0, +) }
            let order = scores.indices.sorted { scores[$0] > scores[$1] }
            let exact = Set(order.prefix(10).map { Int64($0 + 1) })
            let got = try index.search(q, count: 1, k: 10)[0].map(\.id)
            XCTAssertEqual(got.count, 10)
            found += got.filter { exact.contains($0) }.count
        }
        let measured = Double(found) / Double(queries.count * 10)
        XCTAssertGreaterThanOrEqual(measured, 0.9, "recall@10 \(measured) after growing from 12 to 800")
        let reported = try XCTUnwrap(index.tuning?.recall)
        XCTAssertEqual(reported, measured, accuracy: 0.1, "stats reports \(reported), the index gives \(measured)")
        // The saved file keeps the new tuning.
        let reopened = try Catalog.open(dir)
        // Equal but for the last digit of recall: the index file's JSON does not always round-trip a double.
        var saved = try XCTUnwrap(reopened.index.tuning), live = try XCTUnwrap(index.tuning)
        XCTAssertEqual(saved.recall, live.recall, accuracy: 1e-12)
        saved.recall = live.recall
        XCTAssertEqual(saved, live)
    }

    // MARK: - Sharing one catalog between threads

    /// Searches from several threads while another thread rebuilds the index and catches up
    /// with new items: every search answers from a whole index (old or new), none crashes.
    func testCatalogIsSafeToShareBetweenThreads() throws {
        let dir = folder()
        let catalog = try open(dir, spec: "flat")
        let all = vectors(400, seed: 5)
        try add(catalog, Array(all[0..<200]), from: 0)
        let stop = ManagedAtomicFlag()
        let failures = FailureList()
        let group = DispatchGroup()
        for t in 0..<4 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                var n = 0
                while !stop.isSet || n < 20 {
                    let q = all[(t * 37 + n) % 200]
                    do {
                        let hits = try catalog.search(vector: q, options: SearchOptions(k: 5))
                        if hits.count != 5 { failures.append("thread \(t): \(hits.count) hits") }
                    } catch {
                        failures.append("thread \(t): \(error)")
                    }
                    n += 1
                }
            }
        }
        // Meanwhile: rebuild as other types, and grow the store and the index.
        for (i, spec) in ["hnsw", "flat", "hnsw", "sq8"].enumerated() {
            try catalog.rebuildIndex(spec: spec)
            let start = 200 + i * 50
            try add(catalog, Array(all[start..<start + 50]), from: start)
            try catalog.catchUp()
        }
        stop.set()
        group.wait()
        XCTAssertEqual(failures.items, [], failures.items.prefix(5).joined(separator: "\n"))
        XCTAssertEqual(catalog.index.count, 400)
    }

    /// The index object itself swapped hundreds of times under searches from four threads
    /// (a reference replaced without a lock is freed under a reader that is about to use it).
    func testIndexSwapUnderConcurrentSearches() throws {
        let dir = folder()
        let catalog = try open(dir, spec: "flat")
        let all = vectors(40, seed: 8)
        try add(catalog, all, from: 0)
        let stop = ManagedAtomicFlag()
        let failures = FailureList()
        let group = DispatchGroup()
        for t in 0..<4 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                var n = 0
                while !stop.isSet {
                    do {
                        let hits = try catalog.search(vector: all[(t + n) % 40], options: SearchOptions(k: 3))
                        if hits.first?.id != UInt64((t + n) % 40 + 1) { failures.append("thread \(t): first hit \(String(describing: hits.first?.id))") }
                    } catch {
                        failures.append("thread \(t): \(error)")
                    }
                    n += 1
                }
            }
        }
        for _ in 0..<1000 { try catalog.rebuildIndex() }
        stop.set()
        group.wait()
        XCTAssertEqual(failures.items, [], failures.items.prefix(5).joined(separator: "\n"))
    }
}

/// A flag set once by one thread and read by others.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

final class FailureList: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    var items: [String] { lock.withLock { list } }
    func append(_ s: String) { lock.withLock { list.append(s) } }
}
