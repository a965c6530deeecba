import Foundation
import Hummingbird

/// `/healthz` (the process answers), `/readyz` (model loaded, index open and caught up with the
/// store), `/metrics` (Prometheus text), `/openapi.json`.
enum OperationsRoutes {
    static func register(on router: Router<KestrelHTTP.Context>, service: SearchService) {
        router.get("/healthz") { _, _ in
            try jsonResponse(["status": "ok"])
        }
        router.get("/readyz") { _, _ in
            let ready = try await service.offload { try service.isCaughtUp() }
            if ready { return try jsonResponse(["status": "ready"]) }
            throw APIError.notReady("the index is catching up with the store; try again shortly", retryAfter: 1)
        }
        router.get("/metrics") { _, _ in
            // The index count takes the index's read lock: off the event loop.
            let count = try await service.offload { service.catalog.index.count }
            service.metrics.setIndexItems(count)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: service.metrics.exposition())))
        }
        router.get("/openapi.json") { _, _ in
            guard let data = ServedFiles.data("openapi.json") else {
                throw APIError(.internalServerError, code: "internal", "the OpenAPI document is missing from this build's resources")
            }
            var headers = HTTPFields()
            headers[.contentType] = "application/json; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }
}
