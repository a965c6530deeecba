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

    /// The router with every route. Middlewares, outermost first: `MetricsMiddleware` (metrics and
    /// the request log, for every route and for unmatched ones), `ErrorMiddleware` (every error as
    /// JSON, 404/405 for unknown routes or methods). Routes wrap their handlers in
    /// `Deadline.wrap(service)` for the request deadline.
    public static func makeRouter(service: SearchService, logger: Logger) -> Router<Context> {
        let router = Router(context: Context.self)
        let routeMethods = RouteMethods()
        router.add(middleware: MetricsMiddleware(service: service, logger: logger))
        if !service.configuration.corsOrigins.isEmpty {
            router.add(middleware: OriginListCORSMiddleware(origins: Set(service.configuration.corsOrigins)))
        }
        router.add(middleware: ErrorMiddleware(service: service, routes: routeMethods, logger: logger))
        OperationsRoutes.register(on: router, service: service)
        WebPageRoutes.register(on: router, service: service)
        SearchRoutes.register(on: router, service: service)
        LabelRoutes.register(on: router, service: service)
        EmbedRoutes.register(on: router, service: service)
        ItemsRoutes.register(on: router, service: service)
        DuplicatesRoutes.register(on: router, service: service)
        InfoRoutes.register(on: router, service: service)
        routeMethods.set(router.routes.map { ($0.path.description, $0.method) })
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

/// CORS for the configured origins only (`ServerConfiguration.corsOrigins`; with none, this
/// middleware is not added and no CORS header is ever sent). A request whose `Origin` is on the
/// list gets `Access-Control-Allow-Origin: <that origin>` and `Vary: Origin`; its preflight
/// (`OPTIONS` with `Access-Control-Request-Method`) is answered 204 with the allowed methods and
/// headers. Other origins get no CORS headers (the browser then blocks the response).
struct OriginListCORSMiddleware: RouterMiddleware {
    typealias Context = KestrelHTTP.Context
    let origins: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], origins.contains(origin) else { return try await next(request, context) }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var headers = HTTPFields()
            headers[.accessControlAllowOrigin] = origin
            headers[.accessControlAllowMethods] = "GET, POST, DELETE"
            headers[.accessControlAllowHeaders] = "Content-Type, Authorization, X-API-Key"
            headers[.accessControlMaxAge] = "600"
            headers[.vary] = "Origin"
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.vary] = "Origin"
        return response
    }
}
