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

    static func register(on router: Router<KestrelHTTP.Context>, writer: UploadStore) {
        let limits = writer.service.configuration.limits
        router.post("/v1/items") { request, context -> Response in
            if let denied = try denial(request, context, writer) { return denied }
            let upload = try await ImageUpload.read(request, limits: limits)
            let metadata = try UploadStore.metadataText(fields: upload.fields)
            let added = try await writer.add(upload.bytes, metadata: metadata)
            var fields: [(String, String)] = [("id", "\(added.id)"), ("duplicate", added.duplicate ? "true" : "false")]
            fields += pathFields(added.path)
            return json(fields, status: .created)
        }
        router.delete("/v1/items/:id") { request, context -> Response in
            if let denied = try denial(request, context, writer) { return denied }
            let id = try itemID(context.parameters.get("id"))
            try await writer.remove(id: id)
            return json([("id", "\(id)"), ("removed", "true")], status: .ok)
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

    /// An item id in a path: decimal digits only, a UInt64. Anything else (`../x`, `-1`, `1e3`,
    /// `+5`, 2^64) is 400 `bad_id`.
    static func itemID(_ text: String?) throws -> UInt64 {
        guard let text, !text.isEmpty, text.utf8.count <= 20, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
              let id = UInt64(text) else {
            let shown = (text ?? "").prefix(40)
            throw APIError.badRequest("bad_id", "an item id is a whole number 0...\(UInt64.max) in decimal digits, got \"\(shown)\"")
        }
        return id
    }

    /// `"path": text` (invalid UTF-8 as U+FFFD), plus `"path_bytes": base64` when the name is not
    /// UTF-8, as JSON fields.
    static func pathFields(_ path: FilePathBytes) -> [(String, String)] {
        var fields = [("path", quoted(path.lossyString))]
        if !path.isValidUTF8 { fields.append(("path_bytes", quoted(Data(path.bytes).base64EncodedString()))) }
        return fields
    }

    static func quoted(_ s: String) -> String {
        var out = ""
        JSONText.appendQuoted(s, to: &out)
        return out
    }

    /// A JSON object from already-encoded values, in the order given.
    static func json(_ fields: [(String, String)], status: HTTPResponse.Status) -> Response {
        let body = "{" + fields.map { "\(quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}\n"
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
