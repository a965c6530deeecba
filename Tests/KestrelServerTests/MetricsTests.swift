import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
import KestrelServer
import KestrelTestSupport
import Logging
import XCTest

/// Collects log lines.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}

struct CapturingLogHandler: LogHandler {
    let sink: LogLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        sink.append("\(level) \(message)")
    }
}

final class MetricsTests: XCTestCase {
    typealias Kit = ServerTestKit

    func testMetricsUseRoutePatternsAndCountErrorsBatchesAndItems() async throws {
        let service = try Kit.service()
        try await Kit.withClient(service) { client in
            _ = try await Kit.send(client, .get, "/v1/items/1")
            _ = try await Kit.send(client, .get, "/v1/items/2")
            _ = try await Kit.send(client, .get, "/v1/items/999999")
            _ = try await Kit.send(client, .get, "/no/such/route/12345")
            _ = try await Kit.json(client, "/v1/search", ["text": "metrics probe", "k": 2])
            _ = try await Kit.json(client, "/v1/search", ["text": "a", "k": 0])
            let r = try await Kit.send(client, .get, "/metrics")
            XCTAssertEqual(r.status, .ok)
            XCTAssertTrue(r.headers[.contentType]?.hasPrefix("text/plain") ?? false)
            let text = r.text
            XCTAssertTrue(text.contains(#"kestrel_http_requests_total{route="/v1/items/{id}",method="GET",status="200"} 2"#), text)
            XCTAssertTrue(text.contains(#"kestrel_http_requests_total{route="/v1/items/{id}",method="GET",status="404"} 1"#), text)
            XCTAssertTrue(text.contains(#"route="unmatched""#), text)
            XCTAssertFalse(text.contains("/v1/items/1\""))
            XCTAssertFalse(text.contains("12345"))
            XCTAssertTrue(text.contains(#"kestrel_http_errors_total{code="not_found"} 2"#), text)
            XCTAssertTrue(text.contains(#"kestrel_http_errors_total{code="limit_exceeded"} 1"#), text)
            XCTAssertTrue(text.contains(#"kestrel_http_request_duration_seconds_bucket{route="/v1/search",method="POST""#), text)
            XCTAssertTrue(text.contains("kestrel_index_items \(service.catalog.index.count)"), text)
            XCTAssertTrue(text.contains("kestrel_encoder_batch_size_count 1"), text)
        }
        // One registry per service: a second service starts from zero.
        let other = try Kit.service()
        XCTAssertFalse(other.metrics.exposition().contains("kestrel_http_requests_total{"))
    }

    func testOneLogLinePerRequestWithQueriesOnlyWhenAsked() async throws {
        for logQueries in [false, true] {
            var configuration = ServerConfiguration()
            configuration.logQueries = logQueries
            let service = try Kit.service(configuration)
            let sink = LogLines()
            let logger = Logger(label: "test") { _ in CapturingLogHandler(sink: sink) }
            try await Kit.withClient(service, logger: logger) { client in
                _ = try await Kit.json(client, "/v1/search", ["text": "secret beach words", "k": 1])
                _ = try await Kit.send(client, .get, "/v1/items/424242")
            }
            let lines = sink.all
            XCTAssertEqual(lines.filter { $0.contains("POST /v1/search 200") }.count, 1, "\(lines)")
            XCTAssertEqual(lines.filter { $0.contains("GET /v1/items/{id} 404") }.count, 1, "\(lines)")
            XCTAssertEqual(lines.contains { $0.contains("secret beach words") }, logQueries, "\(lines)")
            XCTAssertFalse(lines.contains { $0.contains("424242") })
        }
    }
}
