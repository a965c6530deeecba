import Foundation
import Hummingbird
import KestrelEngine
import KestrelFiles
import KestrelServer
import NIOConcurrencyHelpers
import NIOCore

/// Test support for the web page test, TEMPORARY: minimal versions of the API routes the page
/// calls that were not on main when the page was written (`POST /v1/search/image`,
/// `POST /v1/search` with `image_ids`, `POST /v1/label`, `GET /v1/items/{id}/thumbnail`,
/// `GET /v1/info`).
///
/// `FallbackResponder` asks the real router (`KestrelHTTP.makeRouter`) first and uses these only
/// when it has no such route (404/405), or, for `POST /v1/search` with `image_ids`, when it
/// rejects the body (400). Once the real routes are merged they answer and these are never
/// used (`used` stays empty; the test prints it), and this file can be deleted together with
/// the one line that builds the responder in WebPageTests.
struct FallbackResponder: HTTPResponder {
    typealias Context = KestrelHTTP.Context
    let primary: any HTTPResponder<Context>
    let fallback: any HTTPResponder<Context>
    /// The routes the fallback answered ("POST /v1/label"...).
    let used = NIOLockedValueBox<Set<String>>([])

    init(service: SearchService, primary: Router<Context>) {
        self.primary = primary.buildResponder()
        let router = Router(context: Context.self)
        WebPageTestRoutes.register(on: router, service: service)
        fallback = router.buildResponder()
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        var request = request
        let body = try await request.body.collect(upTo: 64 << 20)
        request.body = .init(buffer: body)
        let answer = try await primary.respond(to: request, context: context)
        let path = request.uri.path
        let missing = answer.status == .notFound || answer.status == .methodNotAllowed
        let similar = answer.status == .badRequest && path == "/v1/search" && String(buffer: body).contains("image_ids")
        guard (missing && WebPageTestRoutes.handles(path)) || similar else { return answer }
        request.body = .init(buffer: body)
        let route = similar ? "/v1/search (image_ids)" : path.hasSuffix("/thumbnail") ? "/v1/items/{id}/thumbnail" : path
        used.withLockedValue { _ = $0.insert("\(request.method) \(route)") }
        return try await fallback.respond(to: request, context: context)
    }
}

enum WebPageTestRoutes {
    static func handles(_ path: String) -> Bool {
        path == "/v1/search/image" || path == "/v1/label" || path == "/v1/info" || (path.hasPrefix("/v1/items/") && path.hasSuffix("/thumbnail"))
    }

    struct Hit: Encodable { var id: UInt64; var score: Float; var path: String; var thumbnail: String }
    struct Hits: ResponseEncodable { var results: [Hit] }
    struct Similar: Decodable { var image_ids: [UInt64]; var k: Int?; var min_score: Float? }
    struct Label: Encodable { var label: String; var probability: Float; var cosine: Float }
    struct Labels: ResponseEncodable { var labels: [Label]; var best: String }

    struct Model: Encodable { var name: String; var fingerprint: String; var dimension: Int }
    struct Info: ResponseEncodable { var items: Int; var model: Model }

    static func register(on router: Router<KestrelHTTP.Context>, service: SearchService) {
        router.get("/v1/info") { _, _ -> Info in
            let id = service.identity
            return Info(items: try await service.offload { try service.catalog.store.count },
                        model: Model(name: id.name, fingerprint: id.fingerprint, dimension: id.dimension))
        }
        router.post("/v1/search") { request, context -> Hits in
            let body = try await request.decode(as: Similar.self, context: context)
            guard let id = body.image_ids.first else { throw APIError.badRequest("bad_request", "image_ids is empty") }
            return try await search(service, .like(id), k: body.k ?? 10, minScore: body.min_score, excluding: id)
        }
        router.post("/v1/search/image") { request, _ -> Hits in
            let upload = try await ImageUpload.read(request, limits: service.configuration.limits)
            let vector = try await embed(service, upload.bytes)
            let k = request.uri.queryParameters["k"].flatMap { Int(String($0)) } ?? 10
            let minScore = request.uri.queryParameters["min_score"].flatMap { Float(String($0)) }
            return try await search(service, nil, vector: vector, k: k, minScore: minScore)
        }
        router.post("/v1/label") { request, _ -> Labels in
            let upload = try await ImageUpload.read(request, limits: service.configuration.limits)
            guard let text = upload.fields["labels"], let labels = try? JSONDecoder().decode([String].self, from: Data(text.utf8)),
                  !labels.isEmpty else {
                throw APIError.badRequest("bad_request", "labels: give a JSON array of strings")
            }
            let vector = try await embed(service, upload.bytes)
            let result = try await service.offload {
                try ZeroShotClassifier(embedder: service.embedder, labels: labels).classify(vector)
            }
            let rows = labels.indices.map { Label(label: labels[$0], probability: result.probabilities[$0], cosine: result.cosines[$0]) }
                .sorted { $0.probability > $1.probability }
            return Labels(labels: rows, best: labels[result.best])
        }
        router.get("/v1/items/{id}/thumbnail") { _, context -> Response in
            guard let id = context.parameters.get("id").flatMap({ UInt64($0) }) else { throw APIError.badRequest("bad_id", "bad id") }
            let bytes = try await service.offload { () -> [UInt8]? in
                guard let path = try service.catalog.store.item(id: id)?.paths.first else { return nil }
                return try FileSystem.readFile(path, limit: 32 << 20)
            }
            guard let bytes else { throw APIError.notFound("no item \(id)") }
            var headers = HTTPFields()
            headers[.contentType] = bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) ? "image/png" : "image/jpeg"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }

    static func embed(_ service: SearchService, _ bytes: [UInt8]) async throws -> [Float] {
        do {
            return try await service.offload {
                let prepared = try service.embedder.prepare(bytes: bytes, name: "upload")
                return try service.embedder.embedPixels([prepared.pixels]).data
            }
        } catch {
            throw APIError.badRequest("bad_image", "the image cannot be decoded: \(error)")
        }
    }

    static func search(_ service: SearchService, _ query: SearchQuery?, vector: [Float]? = nil, k: Int, minScore: Float?,
                       excluding: UInt64? = nil) async throws -> Hits {
        let results = try await service.offload {
            let v = try vector ?? service.catalog.queryVector(query ?? .text(""), embedder: { service.embedder })
            return try service.catalog.search(vector: v, options: SearchOptions(k: k, minScore: minScore), excluding: excluding)
        }
        return Hits(results: results.map {
            Hit(id: $0.id, score: $0.score, path: $0.path.lossyString, thumbnail: "/v1/items/\($0.id)/thumbnail")
        })
    }
}
