import Foundation
import Hummingbird
import MultipartKit
import NIOCore

/// An image sent by a client: either the whole request body (`Content-Type: image/jpeg` or
/// `image/png`, or `application/octet-stream`), or the part named `image` of a
/// `multipart/form-data` body. Other multipart parts are kept as text fields (`labels`,
/// `metadata`, `name`...).
///
/// The body is read up to `ServerLimits.maxBodyBytes` (past it: 413 naming `body_bytes`; routes
/// wrapped in `Deadline.wrap` have read it already, under the deadline). The
/// image itself is only bytes here: decoding (with the pixel limit checked from the header first)
/// happens in the embedder (`Embedder.prepare(bytes:name:)`). The client's file name is never
/// used as a path: it is at most a display name.
public struct ImageUpload: Sendable {
    /// The image's bytes.
    public var bytes: [UInt8]
    /// The other multipart fields, by name (UTF-8 text; a field that is not UTF-8 is a 400).
    public var fields: [String: String]

    /// Reads the request body. Throws `APIError` (413 `limit_exceeded` for a body past the limit,
    /// 400 `bad_upload` for a malformed multipart body or one without an `image` part, 400
    /// `empty_image` for an empty image, 415 `unsupported_media_type` for other content types).
    public static func read(_ request: Request, limits: ServerLimits) async throws -> ImageUpload {
        let body = try await Deadline.readBody(request, limit: Deadline.BodyKind.upload.limit(limits), timeout: nil)
        let contentType = HeaderValue(request.headers[.contentType])
        let mediaType = contentType.essence
        if mediaType == "multipart/form-data" {
            return try parseMultipart(body, boundary: contentType.parameters["boundary"])
        }
        guard mediaType.isEmpty || mediaType.hasPrefix("image/") || mediaType == "application/octet-stream" else {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                           "send the image as the body (image/jpeg, image/png) or as the part \"image\" of multipart/form-data, not \(mediaType.prefix(80))")
        }
        let bytes = Array(buffer: body)
        guard !bytes.isEmpty else { throw APIError.badRequest("empty_image", "the request body holds no image bytes") }
        return ImageUpload(bytes: bytes, fields: [:])
    }

    static func parseMultipart(_ body: ByteBuffer, boundary: String?) throws -> ImageUpload {
        guard let boundary, !boundary.isEmpty else {
            throw APIError.badRequest("bad_upload", "multipart/form-data without a boundary parameter")
        }
        try MultipartHeaderCheck.check(body.readableBytesView, boundary: boundary)
        let parser = MultipartParser(boundary: boundary)
        var parts: [(headers: [(String, String)], body: [UInt8])] = []
        var headers: [(String, String)] = []
        var partBody: [UInt8] = []
        parser.onHeader = { name, value in headers.append((name, value)) }
        parser.onBody = { buffer in partBody.append(contentsOf: buffer.readableBytesView) }
        parser.onPartComplete = {
            parts.append((headers, partBody))
            headers = []; partBody = []
        }
        do { try parser.execute(body) } catch {
            throw APIError.badRequest("bad_upload", "the multipart/form-data body cannot be read: \(error)")
        }
        var image: [UInt8]?
        var fields: [String: String] = [:]
        for part in parts {
            guard let disposition = part.headers.first(where: { $0.0.lowercased() == "content-disposition" })?.1,
                  let name = HeaderValue(disposition).parameters["name"] else { continue }
            if name == "image" {
                guard image == nil else { throw APIError.badRequest("bad_upload", "the multipart/form-data body has more than one part named \"image\"; send one image per request") }
                image = part.body
            } else {
                guard fields[name] == nil else { throw APIError.badRequest("bad_upload", "the multipart field \"\(name)\" is given twice") }
                guard let text = String(validating: part.body, as: UTF8.self) else {
                    throw APIError.badRequest("bad_upload", "the multipart field \"\(name)\" is not UTF-8 text")
                }
                fields[name] = text
            }
        }
        guard let image else { throw APIError.badRequest("bad_upload", "the multipart/form-data body has no part named \"image\"") }
        guard !image.isEmpty else { throw APIError.badRequest("empty_image", "the part \"image\" holds no bytes") }
        return ImageUpload(bytes: image, fields: fields)
    }
}
