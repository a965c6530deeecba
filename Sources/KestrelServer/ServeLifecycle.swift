import Foundation
import Hummingbird
import KestrelEngine
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Runs `kestrel serve` until SIGTERM or SIGINT.
public enum ServeLifecycle {
    /// Runs the HTTP application in one service group with, for a writable catalog, an
    /// `IndexSaver` (saves the index at most every `saveInterval` when it changed, and at
    /// shutdown), or, for a read-only one, an `IndexFollower` (every `followInterval`, takes in
    /// what another process wrote: new items, removals, a rebuilt index file).
    /// On SIGTERM or SIGINT the group shuts down gracefully, in reverse order: the HTTP server
    /// stops accepting connections and finishes the requests in flight (an upload under way is
    /// answered), then the saver writes the index a last time; then this returns.
    /// A shutdown that takes longer than `requestTimeout` + 30 s is cancelled.
    /// `onServerRunning` gets the bound port (useful with port 0).
    public static func run(service: SearchService, logger: Logger, saveInterval: Duration = IndexSaver.defaultInterval,
                           followInterval: Duration = .seconds(2),
                           onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let app = KestrelHTTP.makeApplication(service: service, logger: logger, onServerRunning: onServerRunning)
        var services: [any Service] = []
        if service.catalog.isWritable {
            services.append(IndexSaver(catalog: service.catalog, interval: saveInterval))
        } else {
            services.append(IndexFollower(catalog: service.catalog, interval: followInterval))
        }
        services.append(app)
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(service.configuration.limits.requestTimeout + 30)
        try await ServiceGroup(configuration: configuration).run()
    }

    /// `run`, for a synchronous caller (the CLI's commands are synchronous): blocks the calling
    /// thread until the server has stopped, and rethrows what `run` threw.
    public static func runBlocking(service: SearchService, logger: Logger, saveInterval: Duration = IndexSaver.defaultInterval,
                                   onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws {
        let done = DispatchSemaphore(value: 0)
        let failure = NIOLockedValueBox<Error?>(nil)
        Task {
            do {
                try await run(service: service, logger: logger, saveInterval: saveInterval, onServerRunning: onServerRunning)
            } catch {
                failure.withLockedValue { $0 = error }
            }
            done.signal()
        }
        done.wait()
        if let error = failure.withLockedValue({ $0 }) { throw error }
    }
}
