import Foundation
import Hummingbird
import KestrelEngine
import NIOCore

/// Reading and checking request values: JSON bodies, query-string parameters and path ids.
/// Every failure is an `APIError` naming the field (400 `bad_request`), the limit (400
/// `limit_exceeded`) or the id (400 `bad_id`).
enum QueryParsing {
    /// The request's JSON body as an object. 413 past `maxJSONBodyBytes` (`json_body_bytes`); 415
    /// for a Content-Type that is not JSON; 400 `bad_request` for a body that is not UTF-8, not
    /// JSON, or not an object.
    static func jsonObject(_ request: Request, limits: ServerLimits) async throws -> [String: JSONValue] {
        let media = HeaderValue(request.headers[.contentType]).essence
        guard media.isEmpty || media == "application/json" || media.hasSuffix("+json") else {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type", "send the body as application/json, not \(media.prefix(80))")
        }
        let body = try await Deadline.readBody(request, limit: Deadline.BodyKind.json.limit(limits), timeout: nil)
        let value: JSONValue
        do {
            value = try body.withUnsafeReadableBytes { raw in
                guard String(validating: raw, as: UTF8.self) != nil else {
                    throw APIError.badRequest("bad_request", "the body is not UTF-8 text")
                }
                return try JSONValue.parse(bytes: raw)
            }
        } catch let e as JSONValue.ParseError {
            throw APIError.badRequest("bad_request", "the body is not valid JSON: \(e)")
        }
        guard case .object(let object) = value else {
            throw APIError.badRequest("bad_request", "the body must be a JSON object, not \(value.typeName)")
        }
        return object
    }

    /// Throws 400 `bad_request` when the object has fields other than `allowed`.
    static func rejectUnknown(_ object: [String: JSONValue], allowed: Set<String>) throws {
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw APIError.badRequest("bad_request", "unknown field \"\(unknown)\" (fields: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    static func wrongType(_ field: String, _ wanted: String, _ got: JSONValue) -> APIError {
        APIError.badRequest("bad_request", "\"\(field)\" must be \(wanted), not \(got.typeName)")
    }

    /// `k`: a whole number 1...maxK. A fraction or another type is 400 `bad_request`; 0, negative
    /// or above the limit 400 `limit_exceeded` naming `k`.
    static func k(_ value: Double?, field: String = "k", limits: ServerLimits) throws -> Int {
        guard let value else { return min(10, limits.maxK) }
        guard value.isFinite, value == value.rounded() else {
            throw APIError.badRequest("bad_request", "\"\(field)\" must be a whole number, got \(value)")
        }
        guard value >= 1, value <= Double(limits.maxK) else {
            throw APIError.overLimit("k", limits.maxK, "\"\(field)\" must be 1...\(limits.maxK), got \(formatNumber(value))")
        }
        return Int(value)
    }

    /// A whole number in `range` (400 `bad_request` naming `field` otherwise).
    static func wholeNumber(_ value: Double, field: String, range: ClosedRange<Int>) throws -> Int {
        guard value.isFinite, value == value.rounded(), value >= Double(range.lowerBound), value <= Double(range.upperBound) else {
            throw APIError.badRequest("bad_request", "\"\(field)\" must be a whole number \(range.lowerBound)...\(range.upperBound), got \(formatNumber(value))")
        }
        return Int(value)
    }

    static func formatNumber(_ v: Double) -> String {
        if v.isFinite, v == v.rounded(), abs(v) < 1e18 { return String(Int64(v)) }
        return String(v)
    }

    /// A finite score bound (400 `bad_request` naming `field` otherwise).
    static func finiteScore(_ value: Double, field: String) throws -> Float {
        let f = Float(value)
        guard value.isFinite, f.isFinite else {
            throw APIError.badRequest("bad_request", "\"\(field)\" must be a finite number, got \(value)")
        }
        return f
    }

    /// A query text: not empty, at most `maxQueryCharacters` Unicode scalars (400
    /// `limit_exceeded` naming `query_characters` past it).
    static func queryText(_ text: String, field: String, limits: ServerLimits) throws -> String {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError.badRequest("bad_request", "\"\(field)\" must not be empty")
        }
        let n = text.unicodeScalars.count
        guard n <= limits.maxQueryCharacters else {
            throw APIError.overLimit("query_characters", limits.maxQueryCharacters,
                                     "\"\(field)\" has \(n) characters; the limit is \(limits.maxQueryCharacters)")
        }
        return text
    }

    /// A count of texts, ids or labels against `maxBatch` (400 `limit_exceeded` naming `batch_size`).
    static func checkBatch(_ count: Int, field: String, limits: ServerLimits) throws {
        guard count <= limits.maxBatch else {
            throw APIError.overLimit("batch_size", limits.maxBatch, "\"\(field)\" has \(count) entries; the limit is \(limits.maxBatch)")
        }
    }

    /// An item id from a path: decimal digits only, fitting UInt64 (400 `bad_id` otherwise:
    /// `../x`, `-1`, `1e3`, `+1`, 2^64).
    static func itemID(_ text: String?) throws -> UInt64 {
        guard let text, !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), text.utf8.count <= 20,
              let id = UInt64(text) else {
            throw APIError.badRequest("bad_id", "an item id is a decimal number 0...18446744073709551615, not \"\((text ?? "").prefix(40))\"")
        }
        return id
    }

    /// A query-string parameter as a number (nil when absent; 400 naming it when not a number).
    static func queryNumber(_ request: Request, _ name: String) throws -> Double? {
        guard let text = request.uri.queryParameters[Substring(name)].map(String.init) else { return nil }
        guard let v = Double(text), !text.contains(where: { $0.isLetter && $0 != "e" && $0 != "E" }) else {
            throw APIError.badRequest("bad_request", "the query parameter \"\(name)\" must be a number, not \"\(text.prefix(40))\"")
        }
        return v
    }

    /// Search options from the query string (`k`, `min_score`, `path_prefix`), for image searches.
    static func searchOptions(_ request: Request, limits: ServerLimits) throws -> SearchOptions {
        var options = SearchOptions(k: try k(queryNumber(request, "k"), limits: limits))
        if let m = try queryNumber(request, "min_score") { options.minScore = try finiteScore(m, field: "min_score") }
        if let p = request.uri.queryParameters["path_prefix"].map(String.init) { options.pathPrefix = FilePathBytes(p) }
        return options
    }
}

/// A path as JSON shows it: its text (invalid UTF-8 as U+FFFD) plus `path_bytes` (base64) when it
/// is not UTF-8.
struct PathText: Sendable {
    var text: String
    var base64: String?
    init(_ path: FilePathBytes) {
        text = path.lossyString
        base64 = path.isValidUTF8 ? nil : Data(path.bytes).base64EncodedString()
    }
}

/// A header value of the form `type/subtype; name=value; name="value"` (Content-Type,
/// Content-Disposition): its first token lower-cased and its parameters (names lower-cased,
/// quotes removed). The one parser of such headers in the server.
struct HeaderValue: Sendable {
    /// `type/subtype` (or `form-data`), lower-cased; empty when there is no header.
    var essence: String
    var parameters: [String: String]

    init(_ header: String?) {
        let pieces = (header ?? "").split(separator: ";", omittingEmptySubsequences: false)
        essence = pieces.first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        var parameters: [String: String] = [:]
        for piece in pieces.dropFirst() {
            let kv = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2 else { continue }
            var v = kv[1]
            if v.count >= 2, v.hasPrefix("\""), v.hasSuffix("\"") { v = String(v.dropFirst().dropLast()) }
            let key = kv[0].lowercased()
            if parameters[key] == nil { parameters[key] = v }
        }
        self.parameters = parameters
    }
}
