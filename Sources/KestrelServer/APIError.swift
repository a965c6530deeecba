import Foundation
import Hummingbird

/// An error answered to an HTTP client as JSON: `{"error": {"code", "message", "limit"}}`.
///
/// `code` is a stable machine-readable word (documented in docs/api.md and the OpenAPI document);
/// `message` says what was wrong and what to do next; `limit` is the configured bound a request
/// went past (`body_bytes`, `image_pixels`, `k`, `query_characters`, `batch_size`...), present only
/// for limit errors. Every 4xx and 5xx the service sends has this shape.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// The limit's name and its configured value, for errors that report one.
    public var limit: (name: String, value: Int)?

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, limit: (name: String, value: Int)? = nil) {
        self.status = status; self.code = code; self.message = message; self.limit = limit
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    /// The JSON body's shape.
    public struct Body: Codable, Sendable {
        public struct Limit: Codable, Sendable { public var name: String; public var value: Int }
        public struct Detail: Codable, Sendable { public var code: String; public var message: String; public var limit: Limit? }
        public var error: Detail
    }

    /// The JSON body.
    public var json: String {
        let body = Body(error: .init(code: code, message: message, limit: limit.map { .init(name: $0.name, value: $0.value) }))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(body)).map { String(decoding: $0, as: UTF8.self) } ?? "{\"error\":{\"code\":\"internal\",\"message\":\"\"}}"
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: json + "\n")))
    }

    // Common errors.
    public static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code: code, message) }
    public static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not_found", message) }
    public static func tooLarge(_ limitName: String, _ value: Int, _ message: String) -> APIError {
        APIError(.contentTooLarge, code: "limit_exceeded", message, limit: (limitName, value))
    }
    public static func overLimit(_ limitName: String, _ value: Int, _ message: String) -> APIError {
        APIError(.badRequest, code: "limit_exceeded", message, limit: (limitName, value))
    }
}
