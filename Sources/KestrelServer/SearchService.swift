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
            embed: { texts in
                let t = try embedder.embedTexts(texts)
                let d = t.lastDim
                return (0..<texts.count).map { Array(t.data[($0 * d)..<(($0 + 1) * d)]) }
            },
            offload: { work in try await NIOThreadPool.singleton.runIfActive(work) },
            onBatch: { metrics.recordEncoderBatch(size: $0) })
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

    /// Runs blocking work on NIO's blocking pool.
    public func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(body)
    }

    /// Whether the index covers every change in the store (`/readyz`).
    public func isCaughtUp() throws -> Bool {
        try catalog.index.coveredSequence >= catalog.store.lastSequence
    }
}
