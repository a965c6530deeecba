import Foundation
import Hummingbird
import KestrelEngine
import Logging
import ServiceLifecycle

/// Runs `kestrel serve` until SIGTERM or SIGINT.
public enum ServeLifecycle {
    /// Runs the HTTP application, and for a writable catalog an `IndexSaver`, in one service
    /// group. On SIGTERM or SIGINT the group shuts down gracefully, in reverse order: the HTTP
    /// server stops accepting connections and finishes the requests in flight (an upload under
    /// way is answered), then the saver writes the index a last time; then this returns.
    /// A shutdown that takes longer than `requestTimeout` + 30 s is cancelled.
    /// `onServerRunning` gets the bound port (useful with port 0).
    public static func run(service: SearchService, logger: Logger, saveInterval: Duration = .seconds(2),
                           onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let app = KestrelHTTP.makeApplication(service: service, logger: logger, onServerRunning: onServerRunning)
        var services: [any Service] = []
        if service.catalog.isWritable { services.append(IndexSaver(catalog: service.catalog, interval: saveInterval)) }
        services.append(app)
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(service.configuration.limits.requestTimeout + 30)
        try await ServiceGroup(configuration: configuration).run()
    }
}
