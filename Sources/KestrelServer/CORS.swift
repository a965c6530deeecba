import Foundation
import HTTPTypes
import Hummingbird

/// Cross-origin access for browsers, off by default (`ServerConfiguration.corsOrigins` empty: no
/// CORS header is ever sent, so a page from another origin cannot read any answer).
///
/// With origins configured (`kestrel serve --cors-origin https://app.example.com ...`), a request
/// whose `Origin` is exactly one of them goes through Hummingbird's `CORSMiddleware`: preflights
/// (`OPTIONS`) are answered 204 with the allowed methods (GET, POST, DELETE, HEAD, OPTIONS) and
/// headers (Accept, Authorization, Content-Type, Origin, X-API-Key), and other answers carry
/// `Access-Control-Allow-Origin: <that origin>` and `Vary: Origin`. Any other origin (or none)
/// gets no CORS header, but still `Vary: Origin`: the answer depends on the origin, so a shared
/// cache must not hand it to a page from a listed origin (nor the reverse). Credentials (cookies)
/// are never allowed; the API key is a header.
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
        if let origin = request.headers[.origin], origins.contains(origin) {
            return try await cors.handle(request, context: context, next: next)
        }
        var response = try await next(request, context)
        let varies = response.headers[values: .vary].contains { $0.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces).lowercased() == "origin" } }
        if !varies { response.headers.append(HTTPField(name: .vary, value: "Origin")) }
        return response
    }

    /// Adds the middleware to `router` when `origins` is not empty. Call it before any route is
    /// registered (Hummingbird binds middlewares to routes as they are added).
    public static func install(on router: Router<Context>, origins: [String]) {
        guard !origins.isEmpty else { return }
        router.add(middleware: AllowedOriginsCORS(origins: origins))
    }
}
