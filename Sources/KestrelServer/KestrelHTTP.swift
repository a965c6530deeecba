import Foundation
import Hummingbird
import HummingbirdCore
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

    /// The router with every route. Middlewares, outermost first: `MetricsMiddleware` (metrics and
    /// the request log, for every route and for unmatched ones), `AllowedOriginsCORS` (only with
    /// `corsOrigins`), `CloseEarlyRefusals` (401, 403 and 413 end their connection),
    /// `ErrorMiddleware` (every error as JSON, 404/405 for unknown routes or methods). Routes wrap their handlers in
    /// `Deadline.wrap(service)` for the request deadline.
    public static func makeRouter(service: SearchService, logger: Logger) -> Router<Context> {
        let router = Router(context: Context.self)
        let routeMethods = RouteMethods()
        router.add(middleware: MetricsMiddleware(service: service, logger: logger))
        AllowedOriginsCORS.install(on: router, origins: service.configuration.corsOrigins)
        router.add(middleware: CloseEarlyRefusals())
        router.add(middleware: ErrorMiddleware(service: service, routes: routeMethods, logger: logger))
        OperationsRoutes.register(on: router, service: service)
        WebPageRoutes.register(on: router, service: service)
        SearchRoutes.register(on: router, service: service)
        LabelRoutes.register(on: router, service: service)
        EmbedRoutes.register(on: router, service: service)
        ItemsRoutes.register(on: router, service: service)
        DuplicatesRoutes.register(on: router, service: service)
        InfoRoutes.register(on: router, service: service)
        WriteRoutes.register(on: router, service: service)
        routeMethods.set(router.routes.map { ($0.path.description, $0.method) })
        return router
    }

    /// The application, listening on `configuration.host:port` (port 0: any free port; the bound
    /// one is passed to `onServerRunning`). HTTP/1.1; a connection idle for
    /// `configuration.idleTimeout` seconds (no request part arriving while none is being
    /// answered: a stalled request head or body too) is closed, and one answered with
    /// `Connection: close` is ended once that answer is sent (`CloseAfterResponseHandler`).
    public static func makeApplication(service: SearchService, logger: Logger,
                                       onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol {
        let router = makeRouter(service: service, logger: logger)
        let c = service.configuration
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [CloseAfterResponseHandler()],
            idleTimeout: .nanoseconds(Int64((max(0.001, c.idleTimeout) * 1e9).rounded())))
        return Application(
            router: router,
            server: .http1(configuration: http1),
            configuration: .init(address: .hostname(c.host, port: c.port), serverName: "kestrel"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? c.port) },
            logger: logger)
    }
}
