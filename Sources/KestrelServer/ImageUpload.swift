import Foundation
import Hummingbird
import MultipartKit
import NIOCore

/// An image sent by a client: either the whole request body (`Content-Type: image/jpeg` or
/// `image/png`, or `application/octet-stream`), or the part named `image` of a
/// `multipart/form-data` body. Other multipart parts are kept as text fields (`labels`,
/// `metadata`, `name`...).
///
/// The body is read up to `ServerLimits.maxBodyBytes` (past it: 413 naming `body_bytes`). The
/// image itself is only bytes here: decoding (with the pixel limit checked from the header first)
/// happens in the embedder (`Embedder.prepare(bytes:name:)`). The client's file name is never
/// used as a path: it is at most a display name.
public struct ImageUpload: Sendable {
    /// The image's bytes.
    public var bytes: [UInt8]
    /// The file name the client gave in the multipart part, if any (display only).
    public var filename: String?
    /// The other multipart fields, by name (UTF-8 text; a field that is not UTF-8 is a 400).
    public var fields: [String: String]

    /// Reads the request body. Throws `APIError` (413 `limit_exceeded` for a body past the limit,
    /// 400 `bad_upload` for a malformed multipart body or one without an `image` part, 400
    /// `empty_image` for an empty image, 415 `unsupported_media_type` for other content types).
    public static func read(_ request: Request, limits: ServerLimits) async throws -> ImageUpload {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limits.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw APIError.tooLarge("body_bytes", limits.maxBodyBytes,
                                    "the request body is larger than the limit of \(limits.maxBodyBytes) bytes")
        }
        let contentType = request.headers[.contentType] ?? ""
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if mediaType == "multipart/form-data" {
            return try parseMultipart(body, contentType: contentType)
        }
        guard mediaType.isEmpty || mediaType.hasPrefix("image/") || mediaType == "application/octet-stream" else {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                           "send the image as the body (image/jpeg, image/png) or as the part \"image\" of multipart/form-data, not \(mediaType)")
        }
        let bytes = Array(buffer: body)
        guard !bytes.isEmpty else { throw APIError.badRequest("empty_image", "the request body holds no image bytes") }
        return ImageUpload(bytes: bytes, filename: nil, fields: [:])
    }

    static func parseMultipart(_ body: ByteBuffer, contentType: String) throws -> ImageUpload {
        guard let boundary = boundaryParameter(contentType), !boundary.isEmpty else {
            throw APIError.badRequest("bad_upload", "multipart/form-data without a boundary parameter")
        }
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
        var filename: String?
        var fields: [String: String] = [:]
        for part in parts {
            guard let disposition = part.headers.first(where: { $0.0.lowercased() == "content-disposition" })?.1,
                  let name = dispositionParameter(disposition, "name") else { continue }
            if name == "image" {
                image = part.body
                filename = dispositionParameter(disposition, "filename")
            } else {
                guard let text = String(validating: part.body, as: UTF8.self) else {
                    throw APIError.badRequest("bad_upload", "the multipart field \"\(name)\" is not UTF-8 text")
                }
                fields[name] = text
            }
        }
        guard let image else { throw APIError.badRequest("bad_upload", "the multipart/form-data body has no part named \"image\"") }
        guard !image.isEmpty else { throw APIError.badRequest("empty_image", "the part \"image\" holds no bytes") }
        return ImageUpload(bytes: image, filename: filename, fields: fields)
    }

    /// `boundary=...` of a Content-Type, unquoted.
    static func boundaryParameter(_ contentType: String) -> String? {
        parameter(contentType.split(separator: ";").dropFirst().map(String.init), "boundary")
    }

    /// A parameter (`name="x"`) of a Content-Disposition value.
    static func dispositionParameter(_ disposition: String, _ key: String) -> String? {
        parameter(disposition.split(separator: ";").dropFirst().map(String.init), key)
    }

    private static func parameter(_ pieces: [String], _ key: String) -> String? {
        for piece in pieces {
            let kv = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, kv[0].lowercased() == key else { continue }
            var v = kv[1]
            if v.count >= 2, v.hasPrefix("\""), v.hasSuffix("\"") { v = String(v.dropFirst().dropLast()) }
            return v
        }
        return nil
    }
}
