import Foundation
import KestrelEngine
import ServiceLifecycle

/// Saves a writable catalog's index file in the background while the server runs: every
/// `interval`, when the index has changed since the last save (uploads and removals update it
/// in memory), and once more at shutdown, after the HTTP server has finished its requests.
///
/// The index file is derived data: the store is durable at every commit, and after a crash the
/// next `Catalog.open` catches the index up from the store's change log. Saving often only
/// shortens that catch-up. A save that fails (a full disk) is reported through the catalog's
/// `warn` and tried again at the next tick.
public final class IndexSaver: Service, @unchecked Sendable {  // lastSaved is guarded by `saved`
    public let catalog: Catalog
    /// Time between checks.
    public let interval: Duration
    private let queue = DispatchQueue(label: "kestrel.index-saver")
    /// The index object and the store sequence it covered at the last save (or at start).
    private let saved: NSLock = NSLock()
    private var lastSaved: (index: ObjectIdentifier, sequence: UInt64)

    public init(catalog: Catalog, interval: Duration = .seconds(2)) {
        self.catalog = catalog
        self.interval = interval
        let index = catalog.index
        lastSaved = (ObjectIdentifier(index), index.coveredSequence)
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
        let last = saved.withLock { lastSaved }
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
                    saved.withLock { lastSaved = (ObjectIdentifier(index), sequence) }
                    continuation.resume(returning: true)
                } catch {
                    catalog.warn("the index could not be saved (\(error)); trying again in \(interval); the store holds every change")
                    continuation.resume(returning: false)
                }
            }
        }
    }
}
