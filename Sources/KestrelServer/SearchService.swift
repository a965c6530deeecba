import Foundation
import KestrelEngine
import KestrelStore
import NIOPosix

/// What the HTTP routes call: one catalog (store + index) and the model that made it, loaded
/// once for the life of the server. Blocking work (the towers, FAISS, LMDB) runs on NIO's
/// blocking thread pool through `offload`, never on an event loop.
///
/// Reads (searches, labels, embeddings, item lookups) run concurrently; writes (uploads,
/// removals) are serialised by the catalog and never block a search: the catalog swaps its
/// index object atomically after a rebuild.
public final class SearchService: Sendable {
    public let catalog: Catalog
    public let embedder: Embedder
    public let configuration: ServerConfiguration
    /// The model identity the catalog was made with (name, fingerprint, dimension): every vector
    /// the service returns or accepts belongs to this model.
    public let identity: ModelIdentity
    /// The service's Prometheus metrics (its own registry).
    public let metrics: ServerMetrics
    /// Batches concurrent text queries for the text tower and caches their vectors.
    public let textBatcher: TextBatcher
    /// Near-duplicate links, computed in the background once per index version (`/v1/duplicates`).
    public let duplicates: DuplicateFinder
    /// Zero-shot classifiers by (labels, templates): a repeated label request costs no text-tower work.
    let classifiers = LockedState(LRUCache<[[String]], ZeroShotClassifier>(capacity: 64))
    /// Encoded PNG thumbnails by (content hash, size).
    let thumbnails = LockedState(LRUCache<ThumbnailKey, [UInt8]>(capacity: 256))

    /// `catalog` must have been made by `embedder`'s model (throws the store's identity error
    /// otherwise: two models' embeddings are never mixed).
    public init(catalog: Catalog, embedder: Embedder, configuration: ServerConfiguration) throws {
        let identity = try ModelFingerprint.identity(of: embedder.model)
        try catalog.store.requireIdentity(identity)
        self.catalog = catalog
        self.embedder = embedder
        self.configuration = configuration
        self.identity = catalog.store.identity
        let metrics = ServerMetrics()
        self.metrics = metrics
        textBatcher = TextBatcher(
            window: configuration.batchWindow, maxBatch: configuration.maxEncoderBatch,
            embed: { texts in try Self.textRows(embedder, texts) },
            offload: { work in try await Self.offload(work) },
            onBatch: { metrics.recordEncoderBatch(size: $0) })
        duplicates = DuplicateFinder(catalog: catalog)
    }

    /// The unit vectors of `texts`, one row per text, in order (blocking: the text tower).
    public static func textRows(_ embedder: Embedder, _ texts: [String]) throws -> [[Float]] {
        let t = try embedder.embedTexts(texts)
        let d = t.lastDim
        return (0..<texts.count).map { Array(t.data[($0 * d)..<(($0 + 1) * d)]) }
    }

    /// The embedder a server uses for `catalog`: the model in `modelDirectory`, run at the
    /// precision, EXIF orientation and JPEG decoding the catalog's vectors were made with (so
    /// uploaded images are embedded as the stored ones were), and refusing images whose header
    /// claims more than `limits.maxImagePixels` pixels before decoding them
    /// (`ImageError.tooManyPixels`, answered 400 `limit_exceeded` naming `image_pixels`).
    /// Throws what `Embedder.init` throws (a missing or broken model folder).
    public static func makeEmbedder(modelDirectory: URL, catalog: Catalog, limits: ServerLimits) throws -> Embedder {
        try Embedder(modelDirectory: modelDirectory, pixelLimit: max(1, limits.maxImagePixels), orientation: catalog.orientation,
                     precision: catalog.precision, jpegDecoding: catalog.jpegDecoding ?? Embedder.defaultJPEGDecoding)
    }

    /// The unit vector of a text query, through the batcher and its cache.
    public func textVector(_ text: String) async throws -> [Float] {
        try await textBatcher.vector(for: text)
    }

    /// The unit vector of an uploaded image (decoded with the pixel limit checked from its header
    /// first). Throws `ImageError` for images that are too large or cannot be decoded.
    public func imageVector(_ bytes: [UInt8]) async throws -> [Float] {
        try await offload {
            let prepared = try self.embedder.prepare(bytes: bytes, name: "the uploaded image")
            return try self.embedder.embedPixels([prepared.pixels]).data
        }
    }

    /// Runs blocking work on NIO's blocking pool. Throws `CancellationError` without running it
    /// when the calling task is cancelled before the work starts (a request answered 503 stops
    /// costing).
    public func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await Self.offload { _ in try body() }
    }

    /// Runs blocking work on NIO's blocking pool; `body` gets a check to call between its steps,
    /// which throws `CancellationError` once the calling task is cancelled.
    public func offload<T: Sendable>(checking body: @escaping @Sendable (_ check: CancellationCheck) throws -> T) async throws -> T {
        try await Self.offload(body)
    }

    static func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await offload { _ in try body() }
    }

    static func offload<T: Sendable>(_ body: @escaping @Sendable (CancellationCheck) throws -> T) async throws -> T {
        try Task.checkCancellation()
        let check = CancellationCheck()
        return try await withTaskCancellationHandler {
            try await NIOThreadPool.singleton.runIfActive {
                try check()
                return try body(check)
            }
        } onCancel: {
            check.cancel()
        }
    }

    /// Whether the index covers every change in the store (`/readyz`).
    public func isCaughtUp() throws -> Bool {
        try catalog.index.coveredSequence >= catalog.store.lastSequence
    }
}

/// Whether the task that handed work to the blocking pool has been cancelled: calling it throws
/// `CancellationError` once it has.
public final class CancellationCheck: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    public init() {}
    public func cancel() { lock.lock(); cancelled = true; lock.unlock() }
    public var isCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }
    /// Throws `CancellationError` when cancelled.
    public func callAsFunction() throws { if isCancelled { throw CancellationError() } }
}

/// A thumbnail cache key.
struct ThumbnailKey: Hashable, Sendable { var contentHash: String; var size: Int }
