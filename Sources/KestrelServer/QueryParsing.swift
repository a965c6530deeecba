import Foundation
import Hummingbird
import KestrelEngine
import NIOCore

/// A JSON value as a request sent it (bodies and metadata are read into this, so every field's
/// type can be checked and named in a 400, and metadata filters compare values exactly).
public enum JSONValue: Codable, Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let d):
            if d == d.rounded(), abs(d) < 9.0e15 { try c.encode(Int64(d)) } else { try c.encode(d) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// The JSON type's name, for messages.
    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// Parses a JSON text (nil for text that is not JSON).
    static func parse(_ text: String) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }
}

/// Reading and checking request values: JSON bodies, query-string parameters and path ids.
/// Every failure is an `APIError` naming the field (400 `bad_request`), the limit (400
/// `limit_exceeded`) or the id (400 `bad_id`).
enum QueryParsing {
    /// The request's JSON body as an object. 413 past `maxBodyBytes`; 415 for a Content-Type that
    /// is not JSON; 400 `bad_request` for a body that is not UTF-8, not JSON, or not an object.
    static func jsonObject(_ request: Request, limits: ServerLimits) async throws -> [String: JSONValue] {
        let contentType = request.headers[.contentType] ?? ""
        let media = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard media.isEmpty || media == "application/json" || media.hasSuffix("+json") else {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type", "send the body as application/json, not \(media)")
        }
        let bytes = try await collectBody(request, limits: limits)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw APIError.badRequest("bad_request", "the body is not UTF-8 text")
        }
        guard let value = JSONValue.parse(text) else {
            throw APIError.badRequest("bad_request", "the body is not valid JSON")
        }
        guard case .object(let object) = value else {
            throw APIError.badRequest("bad_request", "the body must be a JSON object, not \(value.typeName)")
        }
        return object
    }

    /// The whole body, up to `maxBodyBytes` (413 naming `body_bytes` past it).
    static func collectBody(_ request: Request, limits: ServerLimits) async throws -> [UInt8] {
        do {
            return Array(buffer: try await request.body.collect(upTo: limits.maxBodyBytes))
        } catch is NIOTooManyBytesError {
            throw APIError.tooLarge("body_bytes", limits.maxBodyBytes,
                                    "the request body is larger than the limit of \(limits.maxBodyBytes) bytes")
        }
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
