import Foundation

/// The bounds every request is checked against before any work is done. A request past one is
/// answered 4xx with `{"error": {"code": "limit_exceeded", "message", "limit": {"name", "value"}}}`
/// naming the limit (413 for bodies, 400 for the rest). Each is a `kestrel serve` option.
public struct ServerLimits: Sendable, Equatable {
    /// Largest request body, bytes (`--max-body-bytes`; uploads included). Name: `body_bytes`.
    public var maxBodyBytes = 32 << 20
    /// Largest JSON request body, bytes (`--max-json-body-bytes`; `POST /v1/search`,
    /// `POST /v1/embed/text`). Rejected from `Content-Length` before reading when it says more.
    /// Name: `json_body_bytes`.
    public var maxJSONBodyBytes = 1 << 20
    /// Largest image, width x height as its header claims, checked before decoding
    /// (`--max-image-pixels`). Name: `image_pixels`.
    public var maxImagePixels = 50_000_000
    /// Largest `k` (`--max-k`). Name: `k`.
    public var maxK = 1000
    /// Longest text query or label, in Unicode scalars (`--max-query-characters`). Name: `query_characters`.
    public var maxQueryCharacters = 1000
    /// Most texts in one embed request, most labels in one label request, most terms in one
    /// combined query, most ids in one request (`--max-batch`). Name: `batch_size`.
    public var maxBatch = 256
    /// Seconds a request may run before it is answered 503 (`--request-timeout`).
    public var requestTimeout: Double = 10
    public init() {}
}
