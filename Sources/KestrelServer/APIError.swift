import Foundation
import Hummingbird

/// An error answered to an HTTP client as JSON: `{"error": {"code", "message", "limit"}}`.
///
/// `code` is a stable machine-readable word, one of `APIError.codes` (documented in docs/api.md
/// and the OpenAPI document; a test checks the three agree); `message` says what was wrong and
/// what to do next; `limit` is the configured bound a request went past (`body_bytes`,
/// `json_body_bytes`, `image_pixels`, `k`, `query_characters`, `batch_size`...), present only for
/// limit errors. Every 4xx and 5xx the service sends has this shape.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// The limit's name and its configured value, for errors that report one.
    public var limit: (name: String, value: Int)?
    /// Extra response headers (`Retry-After` on 503 `not_ready`).
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, limit: (name: String, value: Int)? = nil) {
        self.status = status; self.code = code; self.message = message; self.limit = limit
    }

    /// Every code the service answers with.
    public static let codes: Set<String> = [
        "bad_request", "bad_id", "bad_image", "bad_upload", "empty_image", "limit_exceeded", "unsupported_media_type",
        "not_found", "method_not_allowed", "unauthorized", "forbidden", "read_only", "settings_mismatch",
        "deadline_exceeded", "not_ready", "unavailable", "internal",
    ]

    public var description: String { "\(status.code) \(code): \(message)" }

    /// The JSON body's shape.
    public struct Body: Codable, Sendable {
        public struct Limit: Codable, Sendable { public var name: String; public var value: Int }
        public struct Detail: Codable, Sendable { public var code: String; public var message: String; public var limit: Limit? }
        public var error: Detail
    }

    /// The JSON body's value.
    public var body: Body {
        Body(error: .init(code: code, message: message, limit: limit.map { .init(name: $0.name, value: $0.value) }))
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try jsonResponse(body, status: status)
        response.headers[.cacheControl] = "no-store"
        for field in headers { response.headers.append(field) }
        return response
    }

    // Common errors.
    public static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code: code, message) }
    public static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not_found", message) }
    public static func tooLarge(_ limitName: String, _ value: Int, _ message: String) -> APIError {
        APIError(.contentTooLarge, code: "limit_exceeded", message, limit: (limitName, value))
    }
    /// 413 for a request body past the limit `limitName` (`body_bytes` or `json_body_bytes`).
    public static func bodyTooLarge(_ limitName: String, _ value: Int) -> APIError {
        tooLarge(limitName, value, "the request body is larger than the limit of \(value) bytes (\(limitName))")
    }
    public static func overLimit(_ limitName: String, _ value: Int, _ message: String) -> APIError {
        APIError(.badRequest, code: "limit_exceeded", message, limit: (limitName, value))
    }
    /// 503 `not_ready` with `Retry-After: seconds`.
    public static func notReady(_ message: String, retryAfter seconds: Int) -> APIError {
        var e = APIError(.serviceUnavailable, code: "not_ready", message)
        e.headers[.retryAfter] = String(max(1, seconds))
        return e
    }
}

/// The one JSON encoding of every response body: keys sorted, slashes unescaped.
enum JSONOutput {
    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}

/// A response with `value` as its JSON body (`application/json; charset=utf-8`, keys sorted). Throws the encoder's error (a NaN or infinite number), which `ErrorMiddleware`
/// answers 500 `internal`.
public func jsonResponse<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    var data = try JSONOutput.encode(value)
    data.append(0x0A)
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
