import Foundation

/// How `kestrel serve` runs: where it listens, its limits, its write key, and its privacy and
/// batching settings.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var limits = ServerLimits()
    /// The key write endpoints require (`Authorization: Bearer KEY` or `X-API-Key: KEY`), compared
    /// in constant time. nil: write endpoints answer 403 (the service is read-only).
    public var apiKey: String?
    /// Origins allowed by CORS; empty (the default): no CORS headers at all.
    public var corsOrigins: [String] = []
    /// Request logs carry query text only when this is set (`--log-queries`); never image bytes.
    public var logQueries = false
    /// How long the text-query batcher waits for more queries once one arrives, seconds.
    public var batchWindow: Double = 0.002
    /// Most texts the batcher sends to the text tower at once.
    public var maxEncoderBatch = 32
    /// Seconds a connection may go without receiving anything (while no request of it is being
    /// answered) before the server closes it (`--idle-timeout`): an idle keep-alive connection, or
    /// one whose request head or body stalls (a slow-headers client holding connections open).
    public var idleTimeout: Double = 30
    public init() {}
}
