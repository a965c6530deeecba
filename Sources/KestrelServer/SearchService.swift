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

    /// `catalog` must have been made by `embedder`'s model (throws the store's identity error
    /// otherwise: two models' embeddings are never mixed).
    public init(catalog: Catalog, embedder: Embedder, configuration: ServerConfiguration) throws {
        let identity = try ModelFingerprint.identity(of: embedder.model)
        try catalog.store.requireIdentity(identity)
        self.catalog = catalog
        self.embedder = embedder
        self.configuration = configuration
        self.identity = catalog.store.identity
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
