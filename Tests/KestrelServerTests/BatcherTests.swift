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

    /// 32 texts with at most 16 per batch and a window that never closes by itself: exactly two
    /// batches of 16 (sent when full), each caller gets its own row.
    func testConcurrentQueriesAreBatchedAndGetTheirOwnVectors() async throws {
        let embedder = try Kit.shared().embedder
        let texts = (0..<32).map { "query number \($0) about \(["cats", "a red circle", "the sea", "mountains at dusk"][$0 % 4])" }
        let alone = try texts.map { try embedder.embedTexts([$0]).data }
        let calls = Calls()
        let batcher = Self.batcher(embedder, calls: calls, window: 100_000, maxBatch: 16)
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
        XCTAssertEqual(calls.all, [16, 16])
        XCTAssertEqual(batcher.batchStatistics.batches, 2)
        XCTAssertEqual(batcher.batchStatistics.largest, 16)
        // Cached now: no more tower calls.
        let again = try await batcher.vector(for: texts[3])
        XCTAssertEqual(again, got[3])
        XCTAssertEqual(calls.all.count, 2)
    }

    func testIdenticalTextsShareOneRowAndTheCacheEvictsTheOldest() async throws {
        let embedder = try Kit.shared().embedder
        let calls = Calls()
        // Eight callers fill one batch of 8 (the window never closes by itself): one text, one row.
        let batcher = Self.batcher(embedder, calls: calls, window: 100_000, maxBatch: 8, cache: 2)
        let same = try await withThrowingTaskGroup(of: [Float].self) { group in
            for _ in 0..<8 { group.addTask { try await batcher.vector(for: "one and the same") } }
            var out: [[Float]] = []
            for try await v in group { out.append(v) }
            return out
        }
        XCTAssertEqual(Set(same.map { $0.map(\.bitPattern) }).count, 1)
        XCTAssertEqual(calls.all, [1])
        let single = Self.batcher(embedder, calls: calls, window: 0, maxBatch: 8, cache: 2)
        _ = try await single.vector(for: "one and the same")
        _ = try await single.vector(for: "second")
        _ = try await single.vector(for: "third")   // evicts "one and the same"
        let before = calls.all.count
        _ = try await single.vector(for: "third")
        XCTAssertEqual(calls.all.count, before)
        _ = try await single.vector(for: "one and the same")
        XCTAssertEqual(calls.all.count, before + 1)
    }

    /// A caller cancelled while its text waits for a batch leaves the queue: it gets
    /// `CancellationError` and its text is not embedded.
    func testACancelledWaiterLeavesTheQueue() async throws {
        let embedder = try Kit.shared().embedder
        let calls = Calls()
        let batcher = Self.batcher(embedder, calls: calls, window: 100_000, maxBatch: 3)
        let gone = Task { try await batcher.vector(for: "the cancelled one") }
        while batcher.waiting < 1 { await Task.yield() }
        gone.cancel()
        do { _ = try await gone.value; XCTFail("not cancelled") } catch is CancellationError {}
        XCTAssertEqual(batcher.waiting, 0)
        // Three others make the next batch; the cancelled text is not in it.
        let others = try await withThrowingTaskGroup(of: [Float].self) { group in
            for t in ["a", "b", "c"] { group.addTask { try await batcher.vector(for: t) } }
            var n = 0
            for try await v in group { XCTAssertFalse(v.isEmpty); n += 1 }
            return n
        }
        XCTAssertEqual(others, 3)
        XCTAssertEqual(calls.all, [3])
        // A task cancelled before it asks gets CancellationError at once.
        let early = Task { () -> [Float] in
            withUnsafeCurrentTask { $0?.cancel() }
            return try await batcher.vector(for: "never")
        }
        do { _ = try await early.value; XCTFail("not cancelled") } catch is CancellationError {}
        XCTAssertEqual(batcher.waiting, 0)
    }

    func testServiceSearchesGoThroughTheBatcher() async throws {
        // Four per batch, a window that never closes by itself: 12 searches are 3 batches of 4.
        var configuration = ServerConfiguration()
        configuration.batchWindow = 100_000
        configuration.maxEncoderBatch = 4
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
        XCTAssertEqual(stats.batches, 3)
        XCTAssertEqual(stats.largest, 4)
        XCTAssertTrue(service.metrics.exposition().contains("kestrel_encoder_batch_size_sum 12"))
    }
}
