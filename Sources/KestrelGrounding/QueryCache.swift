import Foundation

/// A least-recently-used cache of query embeddings (L2-normalised [E] vectors) keyed by the
/// query's text (or an image query's content key), so that asking the same query of many pictures
/// runs the text tower once. Safe to use from several threads.
public final class QueryCache: @unchecked Sendable {
    /// At most this many embeddings are kept; the least recently used goes first.
    public let capacity: Int
    private var values: [String: [Float]] = [:]
    private var order: [String] = []          // least recently used first
    private let lock = NSLock()
    private var hitCount = 0, missCount = 0
    /// Lookups answered from the cache so far.
    public var hits: Int { statistics.hits }
    /// Lookups that had to make the embedding so far.
    public var misses: Int { statistics.misses }

    public init(capacity: Int = 256) { self.capacity = max(1, capacity) }

    /// The cached embedding for `key`, or `make()`'s (stored); `make` runs outside the lock and
    /// its errors pass through (nothing is stored then).
    public func embedding(for key: String, make: () throws -> [Float]) rethrows -> [Float] {
        lock.lock()
        if let v = values[key] {
            touch(key)
            hitCount += 1
            lock.unlock()
            return v
        }
        missCount += 1
        lock.unlock()
        let v = try make()
        lock.lock()
        defer { lock.unlock() }
        if values[key] == nil {
            values[key] = v
            order.append(key)
            while order.count > capacity { values[order.removeFirst()] = nil }
        }
        return v
    }

    /// The cached embedding for `key` (counted as a hit, and made the most recently used), or nil
    /// (counted as a miss). For callers that embed several misses in one batch, then `store` them.
    public func cached(_ key: String) -> [Float]? {
        lock.lock(); defer { lock.unlock() }
        guard let v = values[key] else { missCount += 1; return nil }
        hitCount += 1
        touch(key)
        return v
    }

    /// Keeps `value` for `key` as the most recently used, dropping the least recently used beyond `capacity`.
    public func store(_ key: String, _ value: [Float]) {
        lock.lock(); defer { lock.unlock() }
        if values[key] == nil { order.append(key) } else { touch(key) }
        values[key] = value
        while order.count > capacity { values[order.removeFirst()] = nil }
    }

    /// (hits, misses) so far.
    public var statistics: (hits: Int, misses: Int) { lock.lock(); defer { lock.unlock() }; return (hitCount, missCount) }

    /// The keys held, least recently used first.
    public var keys: [String] { lock.lock(); defer { lock.unlock() }; return order }

    private func touch(_ key: String) {
        if let i = order.firstIndex(of: key) { order.remove(at: i) }
        order.append(key)
    }
}
