import Foundation
import HTTPTypes
import Hummingbird
import KestrelEngine

/// The secret that write endpoints (`POST /v1/items`, `DELETE /v1/items/{id}`) require.
///
/// Only the key's SHA-256 digest is kept. A presented key is hashed the same way and the two
/// 32-byte digests are compared with a loop that always looks at every byte (XOR, OR-accumulated),
/// so the time taken says nothing about how much of a guess was right, nor how long the key is.
public struct APIKey: Sendable {
    private let digest: [UInt8]

    /// `key` is used as given (callers trim it). Throws `APIKeyError.empty` for an empty key.
    public init(_ key: String) throws {
        guard !key.isEmpty else { throw APIKeyError.empty(source: "the key") }
        digest = SHA256.hash(Array(key.utf8))
    }

    /// Whether `candidate` is the key, in time independent of where the two differ.
    public func matches(_ candidate: String) -> Bool {
        let other = SHA256.hash(Array(candidate.utf8))
        guard other.count == digest.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<digest.count { difference |= digest[i] ^ other[i] }
        return difference == 0
    }

    /// The key `kestrel serve` runs with: `$KESTREL_API_KEY`, or the first line of `file`
    /// (`--api-key-file`), trimmed of surrounding whitespace; nil when neither is given (the
    /// service is then read-only). Throws `APIKeyError` when both are given, when the variable
    /// is set but empty, or when the file cannot be read or holds no key on its first line.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment,
                            file: String?) throws -> String? {
        try requireOneSource(environment: environment, file: file)
        if let variable = environment[environmentVariable] {
            let key = variable.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !key.isEmpty else { throw APIKeyError.empty(source: "$\(environmentVariable)") }
            return key
        }
        guard let file else { return nil }
        let bytes: [UInt8]
        do {
            // By kind before reading: a FIFO or /dev/zero is refused, never read without end.
            bytes = try FileSystem.readHead(FilePathBytes(file), count: 64 * 1024)
        } catch let error as FileError {
            throw APIKeyError.unreadableFile(path: file, reason: error.reason)
        }
        guard let text = String(validating: bytes.prefix { $0 != 0x0A }, as: UTF8.self) else {
            throw APIKeyError.unreadableFile(path: file, reason: "its first line is not UTF-8 text")
        }
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !key.isEmpty else { throw APIKeyError.empty(source: "the first line of \(file)") }
        return key
    }

    /// Throws `APIKeyError.twoSources` when both `$KESTREL_API_KEY` and a key file are given
    /// (`kestrel serve` checks it with its options, before anything is read).
    public static func requireOneSource(environment: [String: String] = ProcessInfo.processInfo.environment,
                                        file: String?) throws {
        if environment[environmentVariable] != nil, file != nil { throw APIKeyError.twoSources }
    }

    /// `KESTREL_API_KEY`.
    public static let environmentVariable = "KESTREL_API_KEY"

    /// The key a request presents: `Authorization: Bearer KEY` (scheme in any case), else
    /// `X-API-Key: KEY`; nil when it presents neither.
    public static func presented(in headers: HTTPFields) -> String? {
        if let authorization = headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return headers[apiKeyHeader].map { $0.trimmingCharacters(in: .whitespaces) }
    }

    public static let apiKeyHeader = HTTPField.Name("X-API-Key")!

    /// The answer to a write on a server that does not write (`SearchService.isWritable` false).
    public static let readOnly = APIError(
        .forbidden, code: "read_only",
        "this server is read-only (started without an API key, $\(environmentVariable) or --api-key-file, or over an index"
            + " opened for reading): items cannot be added or removed")

    /// Checks a write request's credentials before its body is read. Throws `APIError`: 403
    /// `read_only` when the server takes no writes (`key` nil), 401 `unauthorized` when the request presents none
    /// (answer it with `challenge`, which adds `WWW-Authenticate: Bearer`), 403 `forbidden` when
    /// it presents another.
    public static func authorize(_ headers: HTTPFields, key: APIKey?) throws {
        guard let key else { throw readOnly }
        guard let presented = presented(in: headers), !presented.isEmpty else {
            throw APIError(.unauthorized, code: "unauthorized",
                           "this endpoint needs the API key: send \"Authorization: Bearer KEY\" or \"X-API-Key: KEY\"")
        }
        guard key.matches(presented) else {
            throw APIError(.forbidden, code: "forbidden", "the API key is not the one this server was started with")
        }
    }

    /// The response to a 401 from `authorize`: the `APIError` body with a `WWW-Authenticate:
    /// Bearer` challenge (RFC 9110 requires one on every 401).
    public static func challenge(_ error: APIError, request: Request, context: some RequestContext) throws -> Response {
        var response = try error.response(from: request, context: context)
        response.headers[.wwwAuthenticate] = "Bearer realm=\"kestrel\""
        return response
    }
}

/// Why `kestrel serve` could not get its API key.
public enum APIKeyError: Error, CustomStringConvertible, Sendable {
    case twoSources
    case empty(source: String)
    case unreadableFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .twoSources:
            return "both $\(APIKey.environmentVariable) and --api-key-file are given; use one of them"
        case .empty(let source):
            return "\(source) holds no API key (it is empty); put the key there, or give none for a read-only server"
        case .unreadableFile(let path, let reason):
            return "--api-key-file \(path): cannot read the key: \(reason)"
        }
    }
}
