import Foundation
import Hummingbird
import KestrelEngine

/// `POST /v1/search`: the one fixed contract. Body `{"text": "...", "k": 10}` answers
/// `{"results": [{"id", "score", ...}]}`, best first.
enum SearchRoutes {
    struct SearchRequest: Decodable, Sendable {
        var text: String?
        var k: Int?
    }
    struct SearchHit: Encodable, Sendable {
        var id: UInt64
        var score: Float
        var path: String
    }
    struct SearchResponse: ResponseEncodable, Sendable { var results: [SearchHit] }

    static func register(on router: Router<KestrelHTTP.Context>, service: SearchService) {
        router.post("/v1/search") { request, context -> SearchResponse in
            let body = try await request.decode(as: SearchRequest.self, context: context)
            guard let text = body.text else { throw APIError.badRequest("bad_request", "the body needs \"text\"") }
            let k = body.k ?? 10
            let results = try await service.offload {
                let v = try service.catalog.queryVector(.text(text), embedder: { service.embedder })
                return try service.catalog.search(vector: v, options: SearchOptions(k: k))
            }
            return SearchResponse(results: results.map { SearchHit(id: $0.id, score: $0.score, path: $0.path.lossyString) })
        }
    }
}
