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
    private(set) public var hits = 0
    private(set) public var misses = 0

    public init(capacity: Int = 256) { self.capacity = max(1, capacity) }

    /// The cached embedding for `key`, or `make()`'s (stored); `make` runs outside the lock and
    /// its errors pass through (nothing is stored then).
    public func embedding(for key: String, make: () throws -> [Float]) rethrows -> [Float] {
        lock.lock()
        if let v = values[key] {
            touch(key)
            hits += 1
            lock.unlock()
            return v
        }
        misses += 1
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

    /// The keys held, least recently used first.
    public var keys: [String] { lock.lock(); defer { lock.unlock() }; return order }

    private func touch(_ key: String) {
        if let i = order.firstIndex(of: key) { order.remove(at: i) }
        order.append(key)
    }
}
