import Foundation
import Hummingbird

/// Cross-origin access for browsers, off by default (`ServerConfiguration.corsOrigins` empty: no
/// CORS header is ever sent, so a page from another origin cannot read any answer).
///
/// With origins configured (`kestrel serve --cors-origin https://app.example.com ...`), a request
/// whose `Origin` is exactly one of them goes through Hummingbird's `CORSMiddleware`: preflights
/// (`OPTIONS`) are answered 204 with the allowed methods (GET, POST, DELETE, HEAD, OPTIONS) and
/// headers (Accept, Authorization, Content-Type, Origin, X-API-Key), and other answers carry
/// `Access-Control-Allow-Origin: <that origin>` and `Vary: Origin`. Any other origin gets no
/// CORS header. Credentials (cookies) are never allowed; the API key is a header.
public struct AllowedOriginsCORS<Context: RequestContext>: RouterMiddleware {
    let origins: Set<String>
    let cors: CORSMiddleware<Context>

    public init(origins: [String]) {
        self.origins = Set(origins)
        cors = CORSMiddleware(allowOrigin: .originBased,
                              allowHeaders: [.accept, .authorization, .contentType, .origin, APIKey.apiKeyHeader],
                              allowMethods: [.get, .post, .delete, .head, .options],
                              allowCredentials: false, maxAge: .seconds(600))
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], origins.contains(origin) else { return try await next(request, context) }
        return try await cors.handle(request, context: context, next: next)
    }

    /// Adds the middleware to `router` when `origins` is not empty. Call it before any route is
    /// registered (Hummingbird binds middlewares to routes as they are added).
    public static func install(on router: Router<Context>, origins: [String]) {
        guard !origins.isEmpty else { return }
        router.add(middleware: AllowedOriginsCORS(origins: origins))
    }
}
