import Foundation
import KestrelEngine
import KestrelServer
import KestrelTestSupport
import NIOPosix
import XCTest

final class BatcherTests: XCTestCase {
    typealias Kit = ServerTestKit

    /// Counts the texts the tower was asked for, around the real embedder.
    final class Calls: @unchecked Sendable {
        private let lock = NSLock()
        private var sizes: [Int] = []
        func add(_ n: Int) { lock.lock(); sizes.append(n); lock.unlock() }
        var all: [Int] { lock.lock(); defer { lock.unlock() }; return sizes }
    }

    static func batcher(_ embedder: Embedder, calls: Calls, window: Double, maxBatch: Int, cache: Int = 1024) -> TextBatcher {
        TextBatcher(window: window, maxBatch: maxBatch, cacheCapacity: cache, embed: { texts in
            calls.add(texts.count)
            let t = try embedder.embedTexts(texts)
            let d = t.lastDim
            return (0..<texts.count).map { Array(t.data[($0 * d)..<(($0 + 1) * d)]) }
        }, offload: { work in try await NIOThreadPool.singleton.runIfActive(work) })
    }

    func testConcurrentQueriesAreBatchedAndGetTheirOwnVectors() async throws {
        let embedder = try Kit.shared().embedder
        let texts = (0..<40).map { "query number \($0) about \(["cats", "a red circle", "the sea", "mountains at dusk"][$0 % 4])" }
        let alone = try texts.map { try embedder.embedTexts([$0]).data }
        let calls = Calls()
        let batcher = Self.batcher(embedder, calls: calls, window: 0.05, maxBatch: 16)
        let got = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for (i, t) in texts.enumerated() { group.addTask { (i, try await batcher.vector(for: t)) } }
            var out = [[Float]](repeating: [], count: texts.count)
            for try await (i, v) in group { out[i] = v }
            return out
        }
        for i in texts.indices {
            XCTAssertEqual(got[i].count, alone[i].count)
            for j in got[i].indices { XCTAssertEqual(got[i][j], alone[i][j], accuracy: 1e-5, "text \(i)") }
        }
        let sizes = calls.all
        XCTAssertEqual(sizes.reduce(0, +), 40, "\(sizes)")
        XCTAssertGreaterThan(sizes.max() ?? 0, 1, "\(sizes)")
        XCTAssertLessThanOrEqual(sizes.max() ?? 0, 16, "\(sizes)")
        XCTAssertEqual(batcher.batchStatistics.batches, sizes.count)
        // Cached now: no more tower calls.
        let again = try await batcher.vector(for: texts[3])
        XCTAssertEqual(again, got[3])
        XCTAssertEqual(calls.all.count, sizes.count)
    }

    func testIdenticalTextsShareOneRowAndTheCacheEvictsTheOldest() async throws {
        let embedder = try Kit.shared().embedder
        let calls = Calls()
        let batcher = Self.batcher(embedder, calls: calls, window: 0.05, maxBatch: 64, cache: 2)
        let same = try await withThrowingTaskGroup(of: [Float].self) { group in
            for _ in 0..<8 { group.addTask { try await batcher.vector(for: "one and the same") } }
            var out: [[Float]] = []
            for try await v in group { out.append(v) }
            return out
        }
        XCTAssertEqual(Set(same.map { $0.map(\.bitPattern) }).count, 1)
        XCTAssertEqual(calls.all.reduce(0, +), 1, "\(calls.all)")
        _ = try await batcher.vector(for: "second")
        _ = try await batcher.vector(for: "third")   // evicts "one and the same"
        let before = calls.all.count
        _ = try await batcher.vector(for: "third")
        XCTAssertEqual(calls.all.count, before)
        _ = try await batcher.vector(for: "one and the same")
        XCTAssertEqual(calls.all.count, before + 1)
    }

    func testServiceSearchesGoThroughTheBatcher() async throws {
        var configuration = ServerConfiguration()
        configuration.batchWindow = 0.05
        let service = try Kit.service(configuration)
        try await Kit.withClient(service) { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<12 {
                    group.addTask {
                        let r = try await Kit.json(client, "/v1/search", ["text": "batched query \(i)", "k": 2])
                        XCTAssertEqual(r.status, .ok, r.text)
                    }
                }
                try await group.waitForAll()
            }
        }
        let stats = service.textBatcher.batchStatistics
        XCTAssertLessThan(stats.batches, 12)
        XCTAssertGreaterThan(stats.largest, 1)
        XCTAssertTrue(service.metrics.exposition().contains("kestrel_encoder_batch_size_sum 12"))
    }
}
