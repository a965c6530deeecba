import Foundation
import Hummingbird
import KestrelEngine

/// The write endpoints (they need the API key; see `APIKey.authorize`, checked before the body
/// is read):
///
///     POST   /v1/items        upload an image (raw body, or multipart part "image" with optional
///                             fields "name" and "metadata") -> 201 {"id", "duplicate", "path"}
///     DELETE /v1/items/{id}   remove an item -> 200 {"id", "removed": true}
///
/// The work is done by `UploadStore` (durability, serialisation: see there).
enum WriteRoutes {
    static func register(on router: Router<KestrelHTTP.Context>, service: SearchService) {
        register(on: router, writer: UploadStore(service: service))
    }

    /// The 201 answer to an upload.
    struct Added: Encodable, Sendable {
        var id: UInt64
        var duplicate: Bool
        var path: String
        var path_bytes: String?
    }
    struct Removed: Encodable, Sendable { var id: UInt64; var removed: Bool }

    /// Both routes run under the request deadline (`Deadline.wrap`): an upload answered 503 may
    /// still be stored; sending it again answers the same id with `duplicate: true`.
    static func register(on router: Router<KestrelHTTP.Context>, writer: UploadStore) {
        let service = writer.service
        let limits = service.configuration.limits
        // The key is checked before the body is read (`precheck`).
        router.post("/v1/items", use: sayingTheWriteMayLand(Deadline.wrap(service, precheck: { try denial($0, $1, writer) }) { request, context -> Response in
            let upload = try await ImageUpload.read(request, limits: limits)
            let metadata = try UploadStore.metadataText(fields: upload.fields)
            let added = try await writer.add(upload.bytes, metadata: metadata)
            let path = PathText(added.path)
            return try jsonResponse(Added(id: added.id, duplicate: added.duplicate, path: path.text, path_bytes: path.base64), status: .created)
        }))
        router.delete("/v1/items/{id}", use: sayingTheWriteMayLand(Deadline.wrap(service, precheck: { try denial($0, $1, writer) }) { request, context -> Response in
            let id = try QueryParsing.itemID(context.parameters.get("id"))
            try await writer.remove(id: id)
            return try jsonResponse(Removed(id: id, removed: true))
        }))
    }

    /// A write answered 503 at the deadline may still be applied (the work is not undone): the
    /// 503's message says so and how to find out.
    static func sayingTheWriteMayLand(
        _ handler: @escaping @Sendable (Request, KestrelHTTP.Context) async throws -> Response
    ) -> @Sendable (Request, KestrelHTTP.Context) async throws -> Response {
        return { request, context in
            do { return try await handler(request, context) } catch var e as APIError where e.code == "deadline_exceeded" {
                e.message += "; the write may still be applied: send the same upload again (it is answered with the stored id and"
                    + " \"duplicate\": true once stored) or GET /v1/items/{id} to see whether a removal happened"
                throw e
            }
        }
    }

    /// nil when the request may write; the 401 response (with its challenge) when it presents
    /// no key. Throws the 403s.
    private static func denial(_ request: Request, _ context: KestrelHTTP.Context, _ writer: UploadStore) throws -> Response? {
        do {
            try APIKey.authorize(request.headers, key: writer.key)
            return nil
        } catch let error as APIError where error.status == .unauthorized {
            return try APIKey.challenge(error, request: request, context: context)
        }
    }
}
