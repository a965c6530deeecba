import Foundation

/// Collects concurrent text queries into batches for the text tower.
///
/// A query first looks in a small LRU cache of text -> unit vector (exact text as the key). On a
/// miss it waits in a queue: the first query to arrive opens a window of `window` seconds; when
/// the window closes, or as soon as `maxBatch` texts wait, the queued texts (identical ones once)
/// go to `embed` as one batch, run off the event loop by `offload`, and each caller gets its own
/// row. A failed batch fails each of its callers with the batch's error. A caller cancelled while
/// it waits and before its batch was sent is removed from the queue and gets `CancellationError`
/// (a batch whose every caller left is not sent).
public final class TextBatcher: Sendable {
    public typealias Embed = @Sendable ([String]) throws -> [[Float]]
    public typealias Offload = @Sendable (@escaping @Sendable () throws -> [[Float]]) async throws -> [[Float]]

    private struct Waiter {
        var id: UInt64
        var text: String
        var continuation: CheckedContinuation<[Float], Error>
    }
    private struct State {
        var queue: [Waiter] = []
        var nextID: UInt64 = 0
        /// Callers with an id, not yet queued.
        var arriving: Set<UInt64> = []
        /// Callers cancelled before they were queued.
        var cancelledEarly: Set<UInt64> = []
        var flushScheduled = false
        var cache = LRUCache<String, [Float]>(capacity: 1024)
        var batches = 0
        var largestBatch = 0
    }

    private let state = LockedState(State())
    private let embed: Embed
    private let offload: Offload
    private let window: Double
    private let maxBatch: Int
    private let onBatch: @Sendable (Int) -> Void

    /// `window`: seconds to wait for more texts after the first (0: send at once); `maxBatch`:
    /// most texts per call (at least 1); `cacheCapacity`: texts kept in the LRU cache (0: none);
    /// `onBatch` is told each batch's size (metrics).
    public init(window: Double, maxBatch: Int, cacheCapacity: Int = 1024,
                embed: @escaping Embed, offload: @escaping Offload, onBatch: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.window = window.isFinite ? max(0, window) : 0
        self.maxBatch = max(1, maxBatch)
        self.embed = embed
        self.offload = offload
        self.onBatch = onBatch
        state.withLock { $0.cache = LRUCache(capacity: max(0, cacheCapacity)) }
    }

    /// How many batches were sent and the largest one (texts).
    public var batchStatistics: (batches: Int, largest: Int) { state.withLock { ($0.batches, $0.largestBatch) } }

    /// The unit vector of `text` (from the cache or a batch). Throws the embedder's error, or
    /// `CancellationError` when the calling task is cancelled before its batch is sent.
    public func vector(for text: String) async throws -> [Float] {
        if let cached = state.withLock({ $0.cache.get(text) }) { return cached }
        try Task.checkCancellation()
        let id = state.withLock { s -> UInt64 in s.nextID += 1; s.arriving.insert(s.nextID); return s.nextID }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let action: FlushAction = state.withLock { s in
                    s.arriving.remove(id)
                    if s.cancelledEarly.remove(id) != nil { return .cancelled }
                    s.queue.append(Waiter(id: id, text: text, continuation: continuation))
                    if s.queue.count >= maxBatch {
                        let batch = Array(s.queue.prefix(maxBatch))
                        s.queue.removeFirst(batch.count)
                        return .now(batch)
                    }
                    if !s.flushScheduled { s.flushScheduled = true; return .later }
                    return .none
                }
                switch action {
                case .now(let batch): Task { await self.run(batch) }
                case .later:
                    Task {
                        if self.window > 0 { try? await Task.sleep(nanoseconds: UInt64(self.window * 1e9)) }
                        await self.flush()
                    }
                case .none: break
                case .cancelled: continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let removed: Waiter? = state.withLock { s in
                if let i = s.queue.firstIndex(where: { $0.id == id }) { return s.queue.remove(at: i) }
                if s.arriving.contains(id) { s.cancelledEarly.insert(id) }   // not queued yet; a sent one is left to finish
                return nil
            }
            removed?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Texts waiting for a batch (not yet sent).
    public var waiting: Int { state.withLock { $0.queue.count } }

    private enum FlushAction { case now([Waiter]), later, none, cancelled }

    private func flush() async {
        while true {
            let batch: [Waiter] = state.withLock { s in
                let b = Array(s.queue.prefix(maxBatch))
                s.queue.removeFirst(b.count)
                if s.queue.isEmpty { s.flushScheduled = false }
                return b
            }
            if batch.isEmpty { return }
            await run(batch)
        }
    }

    private func run(_ batch: [Waiter]) async {
        var unique: [String] = []
        var position: [String: Int] = [:]
        for w in batch where position[w.text] == nil {
            position[w.text] = unique.count
            unique.append(w.text)
        }
        let texts = unique
        state.withLock { s in s.batches += 1; s.largestBatch = max(s.largestBatch, texts.count) }
        onBatch(texts.count)
        do {
            let embed = self.embed
            let rows = try await offload { try embed(texts) }
            state.withLock { s in for (i, t) in texts.enumerated() { s.cache.put(t, rows[i]) } }
            for w in batch { w.continuation.resume(returning: rows[position[w.text]!]) }
        } catch {
            for w in batch { w.continuation.resume(throwing: error) }
        }
    }
}

/// A value behind a lock.
final class LockedState<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func withLock<R>(_ body: (inout T) throws -> R) rethrows -> R {
        lock.lock(); defer { lock.unlock() }
        return try body(&value)
    }
}

/// A least-recently-used map with a fixed capacity.
struct LRUCache<Key: Hashable, Value> {
    let capacity: Int
    private var values: [Key: (value: Value, stamp: UInt64)] = [:]
    private var clock: UInt64 = 0
    init(capacity: Int) { self.capacity = capacity }

    mutating func get(_ key: Key) -> Value? {
        guard let entry = values[key] else { return nil }
        clock += 1
        values[key] = (entry.value, clock)
        return entry.value
    }

    mutating func put(_ key: Key, _ value: Value) {
        guard capacity > 0 else { return }
        clock += 1
        values[key] = (value, clock)
        if values.count > capacity, let oldest = values.min(by: { $0.value.stamp < $1.value.stamp })?.key {
            values.removeValue(forKey: oldest)
        }
    }

    var count: Int { values.count }
}
