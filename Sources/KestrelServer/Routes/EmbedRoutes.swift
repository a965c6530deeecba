import Foundation
import Hummingbird
import KestrelEngine

/// `POST /v1/embed/text` `{"texts": ["..."]}` -> `{"model", "embeddings": [[Float]]}` (unit
/// vectors, in the order of the texts) and `POST /v1/embed/image` (an upload) ->
/// `{"model", "embedding": [Float]}`.
enum EmbedRoutes {
    struct Texts: Encodable, Sendable { var model: ModelInfo; var embeddings: [[Float]] }
    struct Image: Encodable, Sendable { var model: ModelInfo; var embedding: [Float] }

    static func register(on router: Router<KestrelHTTP.Context>, service: SearchService) {
        router.post("/v1/embed/text", use: Deadline.wrap(service, body: .json) { request, _ -> Response in
            let limits = service.configuration.limits
            let object = try await QueryParsing.jsonObject(request, limits: limits)
            try QueryParsing.rejectUnknown(object, allowed: ["texts"])
            guard let value = object["texts"] else { throw APIError.badRequest("bad_request", "the body needs \"texts\": an array of strings") }
            guard case .array(let values) = value else { throw QueryParsing.wrongType("texts", "an array of strings", value) }
            guard !values.isEmpty else { throw APIError.badRequest("bad_request", "\"texts\" must hold at least one text") }
            try QueryParsing.checkBatch(values.count, field: "texts", limits: limits)
            let texts = try values.enumerated().map { i, v -> String in
                guard case .string(let s) = v else { throw QueryParsing.wrongType("texts[\(i)]", "a string", v) }
                return try QueryParsing.queryText(s, field: "texts[\(i)]", limits: limits)
            }
            RequestLogNote.current?.query = texts.joined(separator: " | ")
            let rows = try await service.offload { try SearchService.textRows(service.embedder, texts) }
            return try jsonResponse(Texts(model: ModelInfo(service.identity), embeddings: rows))
        })
        router.post("/v1/embed/image", use: Deadline.wrap(service) { request, _ -> Response in
            let upload = try await ImageUpload.read(request, limits: service.configuration.limits)
            let vector = try await service.imageVector(upload.bytes)
            return try jsonResponse(Image(model: ModelInfo(service.identity), embedding: vector))
        })
    }
}
