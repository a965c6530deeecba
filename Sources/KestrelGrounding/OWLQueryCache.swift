import Foundation
import KestrelImage

/// A small least-recently-used map from query text to its embedding, safe to share between threads:
/// repeated text queries cost only the image side (`OWLDetector`).
final class OWLQueryCache: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: [Float]] = [:]
    private var order: [String] = []   // least recently used first
    let capacity: Int
    private(set) var hits = 0, misses = 0

    init(capacity: Int) { self.capacity = max(capacity, 1) }

    func get(_ key: String) -> [Float]? {
        lock.lock(); defer { lock.unlock() }
        guard let v = values[key] else { misses += 1; return nil }
        hits += 1
        if let i = order.firstIndex(of: key) { order.remove(at: i) }
        order.append(key)
        return v
    }

    func put(_ key: String, _ value: [Float]) {
        lock.lock(); defer { lock.unlock() }
        if values[key] == nil, values.count >= capacity, !order.isEmpty { values[order.removeFirst()] = nil }
        if let i = order.firstIndex(of: key) { order.remove(at: i) }
        values[key] = value
        order.append(key)
    }

    var count: Int { lock.lock(); defer { lock.unlock() }; return values.count }
    var statistics: (hits: Int, misses: Int) { lock.lock(); defer { lock.unlock() }; return (hits, misses) }
}

/// The last few image queries (the picture itself, compared in full, and its embedding and patch):
/// one query picture used against many pictures runs its tower once.
final class OWLImageQueryCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [(image: DecodedImage, embedding: [Float], patch: Int)] = []
    let capacity: Int

    init(capacity: Int) { self.capacity = max(capacity, 1) }

    func get(_ image: DecodedImage) -> (embedding: [Float], patch: Int)? {
        lock.lock(); defer { lock.unlock() }
        guard let i = entries.firstIndex(where: { $0.image == image }) else { return nil }
        let e = entries.remove(at: i)
        entries.append(e)
        return (e.embedding, e.patch)
    }

    func put(_ image: DecodedImage, embedding: [Float], patch: Int) {
        lock.lock(); defer { lock.unlock() }
        entries.removeAll { $0.image == image }
        if entries.count >= capacity { entries.removeFirst() }
        entries.append((image, embedding, patch))
    }
}
