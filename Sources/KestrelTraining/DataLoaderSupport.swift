import Foundation

/// A decoded, shrunk RGB picture.
struct CachedImage: Sendable {
    var pixels: [UInt8]
    var width: Int
    var height: Int
    /// How many cached pixels one stored pixel spans (the shrink's factor): manifest boxes are in
    /// stored pixels.
    var scale: Double = 1
}

/// Decoded pictures kept in memory up to a byte budget (first come, kept; no eviction: the
/// sampling is uniform, so any resident set is as good as another).
final class ImageCache: @unchecked Sendable {
    private let lock = NSLock()
    private var images: [Int: CachedImage] = [:]
    private var bytes = 0
    let budget: Int
    init(budget: Int) { self.budget = budget }
    func get(_ i: Int) -> CachedImage? { lock.withLock { images[i] } }
    func put(_ i: Int, _ image: CachedImage) {
        lock.withLock {
            let size = image.pixels.count + 64
            if images[i] == nil && bytes + size <= budget { images[i] = image; bytes += size }
        }
    }
    var usedBytes: Int { lock.withLock { bytes } }
}

/// Each source's shuffled order for an epoch (Fisher–Yates from a generator seeded by the run's
/// seed, the source and the epoch); the last few are kept.
final class PermutationCache: @unchecked Sendable {
    private let lock = NSLock()
    private var cached: [String: [Int]] = [:]

    func get(seed: UInt64, source: Int, epoch: Int, count: Int) -> [Int] {
        let key = "\(source)/\(epoch)"
        if let hit = lock.withLock({ cached[key] }) { return hit }
        var rng = TrainingRNG(seed: seed &+ 0x9E37_79B9 &* UInt64(source + 1) &+ 0x5851_F42D &* UInt64(epoch + 1))
        var order = Array(0..<count)
        if count > 1 {
            for i in stride(from: count - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                order.swapAt(i, j)
            }
        }
        lock.withLock {
            if cached.count > 16 { cached.removeAll() }
            cached[key] = order
        }
        return order
    }
}

/// The first error thrown by any of a batch's workers.
final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var error: Error?
    func set(_ e: Error) { lock.withLock { if error == nil { error = e } } }
}

/// Runs `batch(count:after:)` one batch ahead on a background thread. Results are identical to
/// calling it in line: each batch is a pure function of the state the previous one returned.
public final class BatchPrefetcher: @unchecked Sendable {
    private let loader: DataLoader
    private let count: Int
    private let queue = DispatchQueue(label: "kestrel.train.prefetch")
    private let lock = NSLock()
    private var pending: DispatchWorkItem?
    private var result: Result<(TrainingBatch, DataLoader.State), Error>?

    public init(loader: DataLoader, batchSize: Int, from state: DataLoader.State) {
        self.loader = loader
        self.count = batchSize
        schedule(state)
    }

    private func schedule(_ state: DataLoader.State) {
        let item = DispatchWorkItem { [loader, count] in
            let r = Result { try loader.batch(count: count, after: state) }
            self.lock.withLock { self.result = r }
        }
        pending = item
        queue.async(execute: item)
    }

    /// The next batch and the loader state after it; starts preparing the one after.
    public func next() throws -> (TrainingBatch, DataLoader.State) {
        pending?.wait()
        // Waited for: a failed batch must not be waited for again by `finish()` (libdispatch
        // traps on a second wait of one work item: an unreadable training image crashed the run).
        pending = nil
        let r = lock.withLock { result! }
        let value = try r.get()
        schedule(value.1)
        return value
    }

    /// Waits for the batch in preparation (call before exiting).
    public func finish() { pending?.wait() }
}

extension DataLoader {
    /// Timing of `batches` batches from the initial state, in line (no training): the first batch
    /// (decoding into an empty cache) and the mean of the second half (mostly from the cache once
    /// the batches have covered the data).
    public struct Measurement: Sendable {
        public var firstMs: Double
        public var restMs: Double
        public var samplesPerSecond: Double
        public var cacheBytes: Int
    }

    public func measure(batches: Int, batchSize: Int) throws -> Measurement {
        let clock = ContinuousClock()
        var state = initialState()
        var times = [Double]()
        for _ in 0..<batches {
            let t = clock.now
            (_, state) = try batch(count: batchSize, after: state)
            let d = clock.now - t
            times.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) * 1e-15)
        }
        let tail = times.count > 1 ? times.suffix(times.count / 2) : times[...]
        let rest = tail.reduce(0, +) / Double(tail.count)
        return Measurement(firstMs: times[0], restMs: rest, samplesPerSecond: Double(batchSize) / (rest / 1000),
                           cacheBytes: cacheUsedBytes)
    }

    /// Bytes held by the decoded-image cache.
    public var cacheUsedBytes: Int { cache.usedBytes }
}
