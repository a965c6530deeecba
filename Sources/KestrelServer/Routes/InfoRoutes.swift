import Foundation
import Hummingbird
import KestrelEngine

/// `GET /v1/info`: the model, the catalog (items, index type and factory, store and index
/// sequences) and the limits requests are checked against.
enum InfoRoutes {
    struct Index: Encodable, Sendable {
        var type: String
        var factory: String
        var kind: String
        var vectors: Int
        var covered_sequence: UInt64
    }
    struct Limits: Encodable, Sendable {
        var body_bytes: Int
        var json_body_bytes: Int
        var image_pixels: Int
        var k: Int
        var query_characters: Int
        var batch_size: Int
        var label_prompts: Int
        var metadata_bytes: Int
        var request_timeout_seconds: Double
    }
    struct Answer: Encodable, Sendable {
        var model: ModelInfo
        var items: Int
        var index: Index
        var store_sequence: UInt64
        var writable: Bool
        var limits: Limits
    }

    static func register(on router: Router<KestrelHTTP.Context>, service: SearchService) {
        router.get("/v1/info", use: Deadline.wrap(service) { _, _ -> Response in
            let answer = try await service.offload { () -> Answer in
                let c = service.catalog
                let index = c.index
                let l = service.configuration.limits
                return Answer(model: ModelInfo(service.identity), items: try c.store.count,
                              index: Index(type: c.indexSpec, factory: index.factory, kind: index.kind.rawValue, vectors: index.count,
                                           covered_sequence: index.coveredSequence),
                              store_sequence: try c.store.lastSequence, writable: service.isWritable,
                              limits: Limits(body_bytes: l.maxBodyBytes, json_body_bytes: l.maxJSONBodyBytes, image_pixels: l.maxImagePixels, k: l.maxK,
                                             query_characters: l.maxQueryCharacters, batch_size: l.maxBatch,
                                             label_prompts: l.maxLabelPrompts, metadata_bytes: UploadStore.maxMetadataBytes,
                                             request_timeout_seconds: l.requestTimeout))
            }
            return try jsonResponse(answer)
        })
    }
}
