import Foundation
import Hummingbird

/// `/healthz` (the process answers), `/readyz` (model loaded, index open and caught up with the
/// store), `/metrics` (Prometheus text), `/openapi.json`.
enum OperationsRoutes {
    static func register(on router: Router<KestrelHTTP.Context>, service: SearchService) {
        router.get("/healthz") { _, _ in
            jsonResponse(#"{"status":"ok"}"#)
        }
        router.get("/readyz") { _, _ in
            let ready = try await service.offload { try service.isCaughtUp() }
            if ready { return jsonResponse(#"{"status":"ready"}"#) }
            throw APIError(.serviceUnavailable, code: "not_ready", "the index is catching up with the store; try again shortly")
        }
        router.get("/metrics") { _, _ in
            service.metrics.setIndexItems(service.catalog.index.count)
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

/// A 200 response with a JSON body.
func jsonResponse(_ json: String, status: HTTPResponse.Status = .ok) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: json + "\n")))
}
