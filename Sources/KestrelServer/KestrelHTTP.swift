import Foundation
import Hummingbird
import Logging

/// Builds the service's router and application. Routes (all JSON, errors as `APIError`):
///
///     GET  /healthz /readyz /metrics /openapi.json       operations (Routes/OperationsRoutes.swift)
///     GET  / and /static/...                              the web page (Routes/WebPageRoutes.swift)
///     POST /v1/search                                     search (Routes/SearchRoutes.swift)
///     ...                                                 the rest: docs/api.md and docs/openapi.json
///
/// Each area registers its own routes; the OpenAPI document lists every one of them (a test
/// checks both ways).
public enum KestrelHTTP {
    public typealias Context = BasicRequestContext

    public static func makeRouter(service: SearchService, logger: Logger) -> Router<Context> {
        let router = Router(context: Context.self)
        AllowedOriginsCORS.install(on: router, origins: service.configuration.corsOrigins)
        OperationsRoutes.register(on: router, service: service)
        WebPageRoutes.register(on: router, service: service)
        SearchRoutes.register(on: router, service: service)
        WriteRoutes.register(on: router, service: service)
        return router
    }

    /// The application, listening on `configuration.host:port` (port 0: any free port; the bound
    /// one is passed to `onServerRunning`).
    public static func makeApplication(service: SearchService, logger: Logger,
                                       onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol {
        let router = makeRouter(service: service, logger: logger)
        let c = service.configuration
        return Application(
            router: router,
            configuration: .init(address: .hostname(c.host, port: c.port), serverName: "kestrel"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? c.port) },
            logger: logger)
    }
}
