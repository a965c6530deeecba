import Foundation
import Hummingbird
import KestrelEngine
import Logging

/// Turns every error a route can meet into the `APIError` the client gets.
///
/// Client mistakes are 4xx naming what was wrong: `ImageError.tooManyPixels` is 400
/// `limit_exceeded` naming `image_pixels`; undecodable, truncated or unsupported images are 400
/// `bad_image`; `EngineError.noSuchItem` is 404 `not_found`; `EngineError.badArgument` and
/// `badTemplate` / `noLabels` are 400 `bad_request` naming the field. Anything else (the store,
/// the index, the model, a file the server cannot read) is 500 `internal` with a message that names
/// the kind of failure only: no file-system path of the server. The full error goes to the log.
public enum ErrorMapping {
    /// The `APIError` a client gets for `error`: the one mapping of `ImageError`, `EngineError`,
    /// store, index and model errors to HTTP answers (write routes use it too).
    public static func apiError(for error: Error, limits: ServerLimits) -> APIError {
        switch error {
        case let e as APIError:
            return e
        case let e as ImageError:
            switch e {
            case .tooManyPixels(_, let w, let h, let limit):
                // The header's sizes are the client's: their product may not fit an Int.
                let (pixels, overflow) = w.multipliedReportingOverflow(by: h)
                return APIError.overLimit("image_pixels", limit, "the image header claims \(w)x\(h)"
                                          + (overflow ? "" : " = \(pixels)") + " pixels, more than the limit of \(limit)")
            case .resizedTooLarge(let w, let h, let limit):
                return APIError.overLimit("image_pixels", limit,
                                          "resized for the model, the image would be \(w)x\(h) pixels, more than the limit of \(limit)")
            case .empty:
                return APIError.badRequest("empty_image", "the image holds no bytes")
            case .truncated(_, let d):
                return APIError.badRequest("bad_image", "the image data is truncated (\(d))")
            case .corrupt(_, let d):
                return APIError.badRequest("bad_image", "the image data is corrupt (\(d))")
            case .unsupportedFormat(_, let f):
                return APIError.badRequest("bad_image", "unsupported image format \(f): send JPEG or PNG")
            case .unsupportedLayout(_, let d):
                return APIError.badRequest("bad_image", "unsupported image layout (\(d))")
            case .unreadable, .badConfig:
                return internalError("image")
            }
        case let e as EngineError:
            switch e {
            case .noSuchItem(let id, _):
                return APIError.notFound("no item has id \(id)")
            case .badArgument(let field, let problem):
                return APIError.badRequest("bad_request", "\"\(field)\" \(problem)")
            case .badTemplate(let t):
                return APIError.badRequest("bad_request", "\"templates\": each template needs exactly one {}, got \"\(t.prefix(80))\"")
            case .noLabels:
                return APIError.badRequest("bad_request", "\"labels\" must hold at least one label")
            default:
                return internalError("engine")
            }
        case let e as HTTPError:
            return fromHTTPError(e, limits: limits)
        case is StoreError:
            return internalError("store")
        case is IndexError:
            return internalError("index")
        case is ModelError:
            return internalError("model")
        case is CancellationError:
            return APIError(.serviceUnavailable, code: "unavailable", "the request was cancelled (the server is stopping)")
        default:
            return internalError("server")
        }
    }

    /// 500 `internal`: says which part failed, never a path.
    static func internalError(_ part: String) -> APIError {
        APIError(.internalServerError, code: "internal", "the \(part) failed while answering this request; the server log has the details")
    }

    /// Hummingbird's own errors (its default bodies are not JSON).
    static func fromHTTPError(_ e: HTTPError, limits: ServerLimits) -> APIError {
        switch e.status {
        case .notFound: return APIError(.notFound, code: "not_found", "no such route (see GET /openapi.json)")
        case .methodNotAllowed: return APIError(.methodNotAllowed, code: "method_not_allowed", "this route does not take that method")
        case .contentTooLarge:
            return APIError.bodyTooLarge("body_bytes", limits.maxBodyBytes)
        case .unsupportedMediaType: return APIError(.unsupportedMediaType, code: "unsupported_media_type", e.body ?? "unsupported content type")
        default:
            if (400..<500).contains(e.status.code) {
                return APIError(e.status, code: "bad_request", e.body ?? e.status.reasonPhrase)
            }
            return internalError("server")
        }
    }
}

/// The methods each registered route pattern takes, filled in once the router is built: lets
/// `ErrorMiddleware` answer 405 (with `Allow`) instead of Hummingbird's 404 for a known path.
final class RouteMethods: @unchecked Sendable {
    private let lock = NSLock()
    private var table: [(segments: [String], methods: [HTTPRequest.Method])] = []

    func set(_ routes: [(path: String, method: HTTPRequest.Method)]) {
        var byPath: [String: [HTTPRequest.Method]] = [:]
        for r in routes { byPath[r.path, default: []].append(r.method) }
        lock.lock(); defer { lock.unlock() }
        table = byPath.map { (Self.segments($0.key), $0.value) }
    }

    /// The methods of the route matching `path` (`{x}` segments match any one segment).
    func methods(for path: String) -> [HTTPRequest.Method] {
        let parts = Self.segments(path)
        lock.lock(); defer { lock.unlock() }
        for entry in table where entry.segments.count == parts.count {
            if zip(entry.segments, parts).allSatisfy({ $0.hasPrefix("{") || $0 == $1 }) { return entry.methods }
        }
        return []
    }

    static func segments(_ path: String) -> [String] { path.split(separator: "/").map(String.init) }
}

/// Answers every error as JSON `APIError` (see `ErrorMapping`), counts it by code in the metrics,
/// logs 5xx with the full error, and turns "no route" into 404 `not_found` or, when the path
/// exists with another method, 405 `method_not_allowed` with an `Allow` header. Add it to a
/// router before its routes.
public struct ErrorMiddleware: RouterMiddleware {
    public typealias Context = KestrelHTTP.Context
    let service: SearchService
    let routes: RouteMethods
    let logger: Logger

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var api = ErrorMapping.apiError(for: error, limits: service.configuration.limits)
            var extraHeaders = HTTPFields()
            if api.status == .notFound, api.code == "not_found", (error as? HTTPError)?.status == .notFound {
                let allowed = routes.methods(for: request.uri.path)
                if !allowed.isEmpty {
                    api = APIError(.methodNotAllowed, code: "method_not_allowed",
                                   "\(request.uri.path) takes \(allowed.map(\.rawValue).sorted().joined(separator: ", ")), not \(request.method.rawValue)")
                    extraHeaders[.allow] = allowed.map(\.rawValue).sorted().joined(separator: ", ")
                }
            }
            if api.status.code >= 500 && api.code == "internal" {
                logger.error("\(request.method.rawValue) \(context.endpointPath ?? request.uri.path): \(String(describing: error))")
            }
            service.metrics.recordError(code: api.code)
            var response = try api.response(from: request, context: context)
            for field in extraHeaders { response.headers.append(field) }
            return response
        }
    }
}
