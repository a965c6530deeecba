import Foundation
import KestrelEngine
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Keeps a read-only server's index in step with another process that writes the same index
/// folder (`kestrel index add`, `remove` or `rebuild` beside a server started without a key):
/// every `interval` it calls `Catalog.refresh()`, which applies the store's newer changes to the
/// index in memory and, when `index.faiss` was replaced by a rebuild, loads the new file and
/// swaps it in atomically (searches in flight finish on the old index). Nothing is written.
///
/// So new items are found within about one `interval` of their commit, `/readyz` returns to 200
/// once the index covers the store again, and a rebuild's index is served after its file is in
/// place. A failed step (a store error) is reported through the catalog's `warn` (once per
/// distinct message) and tried again at the next tick.
public final class IndexFollower: Service, Sendable {
    public let catalog: Catalog
    /// Time between steps.
    public let interval: Duration
    private let queue = DispatchQueue(label: "kestrel.index-follower")
    /// The last problem reported (not repeated every tick while it lasts).
    private let lastProblem = NIOLockedValueBox<String?>(nil)

    public init(catalog: Catalog, interval: Duration = .seconds(2)) {
        self.catalog = catalog
        self.interval = interval
    }

    /// Runs until graceful shutdown or cancellation.
    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            _ = try? await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
            guard !Task.isShuttingDownGracefully && !Task.isCancelled else { break }
            await step()
        }
    }

    /// One step (see the type), on a queue of its own, never on the threads that answer requests.
    /// Returns what it did, or nil when it failed (the failure went to `warn`).
    @discardableResult
    public func step() async -> Catalog.Refresh? {
        await withCheckedContinuation { continuation in
            queue.async { [self] in
                do {
                    let done = try catalog.refresh()
                    lastProblem.withLockedValue { $0 = nil }
                    continuation.resume(returning: done)
                } catch {
                    let message = "the index could not follow the store's changes (\(error)); trying again in \(interval)"
                    let isNew = lastProblem.withLockedValue { last -> Bool in
                        defer { last = message }
                        return last != message
                    }
                    if isNew { catalog.warn(message) }
                    continuation.resume(returning: nil)
                }
            }
        }
    }
}
