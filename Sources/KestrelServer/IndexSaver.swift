import Foundation
import KestrelEngine
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Saves a writable catalog's index file in the background while the server runs: at most once
/// every `interval` (30 s by default, `kestrel serve --index-save-interval`), only when the index
/// has changed since the last save (uploads and removals update it in memory), and once more at
/// shutdown, after the HTTP server has finished its requests.
///
/// A save writes the whole index (100-200 MB at 100,000 items) while holding the catalog's change
/// lock, so writes wait for it (searches do not); hence the long interval. The index file is
/// derived data: the store is durable at every commit, and after a crash the next `Catalog.open`
/// catches the index up from the store's change log. Saving often only shortens that catch-up.
/// A save that fails (a full disk) is reported through the catalog's `warn` and tried again at
/// the next tick.
public final class IndexSaver: Service, Sendable {
    public let catalog: Catalog
    /// Least time between saves.
    public let interval: Duration
    /// The default `interval`.
    public static let defaultInterval: Duration = .seconds(30)
    private let queue = DispatchQueue(label: "kestrel.index-saver")
    /// The index object and the store sequence it covered at the last save (or at start).
    private let lastSaved: NIOLockedValueBox<(index: ObjectIdentifier, sequence: UInt64)>

    public init(catalog: Catalog, interval: Duration = IndexSaver.defaultInterval) {
        self.catalog = catalog
        self.interval = interval
        let index = catalog.index
        lastSaved = NIOLockedValueBox((ObjectIdentifier(index), index.coveredSequence))
    }

    /// Runs until graceful shutdown (or cancellation), then saves a last time.
    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // Cut short by graceful shutdown: the closing save below then runs at once.
            _ = try? await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
            await saveIfChanged()
        }
        await saveIfChanged()
    }

    /// Whether the index has changed since the last save.
    public var hasUnsavedChanges: Bool {
        let index = catalog.index
        let last = lastSaved.withLockedValue { $0 }
        return last.index != ObjectIdentifier(index) || last.sequence != index.coveredSequence
    }

    /// Saves the index when it changed since the last save; returns whether it saved. Runs the
    /// save on a queue of its own, never on the threads that answer requests.
    @discardableResult
    public func saveIfChanged() async -> Bool {
        guard catalog.isWritable, hasUnsavedChanges else { return false }
        return await withCheckedContinuation { continuation in
            queue.async { [self] in
                let index = catalog.index
                let sequence = index.coveredSequence
                do {
                    try catalog.saveIndex()
                    lastSaved.withLockedValue { $0 = (ObjectIdentifier(index), sequence) }
                    continuation.resume(returning: true)
                } catch {
                    catalog.warn("the index could not be saved (\(error)); trying again in \(interval); the store holds every change")
                    continuation.resume(returning: false)
                }
            }
        }
    }
}
