import Foundation
import Hummingbird
import Logging
import Prometheus

/// The service's Prometheus metrics, in one registry per `SearchService` (no global
/// bootstrap, so several services can run in one process). `GET /metrics` emits them:
///
/// - `kestrel_http_requests_total{route,method,status}`: requests answered;
/// - `kestrel_http_request_duration_seconds{route,method}`: latency histogram;
/// - `kestrel_http_errors_total{code}`: error answers by `APIError.code`;
/// - `kestrel_index_items`: vectors in the index (set at each scrape);
/// - `kestrel_encoder_batch_size`: texts per text-tower call made by the batcher.
///
/// `route` is the matched route pattern (`/v1/items/{id}`), or `unmatched`: never the raw URI.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let indexItems: Gauge
    let encoderBatch: ValueHistogram
    static let latencyBuckets: [Duration] = [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                                             .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                                             .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10)]

    public init() {
        registry = PrometheusCollectorRegistry()
        indexItems = registry.makeGauge(descriptor: .init(namespace: "kestrel", metricName: "index", unitName: "items",
                                                          helpText: "Vectors in the served index."))
        encoderBatch = registry.makeValueHistogram(
            descriptor: .init(namespace: "kestrel", metricName: "encoder_batch", unitName: "size",
                              helpText: "Texts per text-tower call made by the query batcher."),
            labels: [], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256])
    }

    /// Counts one answered request and its latency.
    public func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(descriptor: .init(namespace: "kestrel", subsystem: "http", metricName: "requests", unitName: "total",
                                               helpText: "HTTP requests answered, by route pattern, method and status."),
                             labels: [("route", route), ("method", method), ("status", String(status))]).increment()
        registry.makeDurationHistogram(descriptor: .init(namespace: "kestrel", subsystem: "http", metricName: "request_duration",
                                                         unitName: "seconds", helpText: "HTTP request latency by route pattern and method."),
                                       labels: [("route", route), ("method", method)], buckets: Self.latencyBuckets).record(duration)
    }

    /// Counts one error answer by its code.
    public func recordError(code: String) {
        registry.makeCounter(descriptor: .init(namespace: "kestrel", subsystem: "http", metricName: "errors", unitName: "total",
                                               helpText: "Error answers by APIError code."),
                             labels: [("code", code)]).increment()
    }

    /// Records one text-tower batch of `size` texts.
    public func recordEncoderBatch(size: Int) { encoderBatch.record(Double(size)) }

    /// Sets the index size gauge.
    public func setIndexItems(_ count: Int) { indexItems.set(Double(count)) }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> String { registry.emitToString() }
}

/// Per-request record that handlers may add to (the query text, logged only with `--log-queries`).
public final class RequestLogNote: @unchecked Sendable {
    private let lock = NSLock()
    private var _query: String?
    public var query: String? {
        get { lock.lock(); defer { lock.unlock() }; return _query }
        set { lock.lock(); _query = newValue; lock.unlock() }
    }
    @TaskLocal public static var current: RequestLogNote?
}

/// Times every request, records it in `ServerMetrics` under its route pattern, and logs one line
/// (method, route pattern, status, milliseconds; the query text only when
/// `configuration.logQueries`; never bodies). Add it to a router first, before every other
/// middleware and route, so it sees the final status of every route, including 404s and 405s.
public struct MetricsMiddleware: RouterMiddleware {
    public typealias Context = KestrelHTTP.Context
    let service: SearchService
    let logger: Logger

    public init(service: SearchService, logger: Logger) { self.service = service; self.logger = logger }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let clock = ContinuousClock()
        let start = clock.now
        let note = RequestLogNote()
        var status = 500
        defer {
            let elapsed = clock.now - start
            let route = context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 } ?? "unmatched"
            service.metrics.recordRequest(route: route, method: request.method.rawValue, status: status, duration: elapsed)
            let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            var line = "\(request.method.rawValue) \(route) \(status) \(String(format: "%.1f", ms))ms"
            if service.configuration.logQueries, let q = note.query { line += " query=\(q.debugDescription)" }
            logger.info("\(line)")
        }
        let response = try await RequestLogNote.$current.withValue(note) { try await next(request, context) }
        status = response.status.code
        return response
    }
}
