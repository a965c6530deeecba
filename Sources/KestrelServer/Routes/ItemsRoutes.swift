import Foundation
import Hummingbird
import KestrelEngine

/// `GET /v1/items/{id}` -> `{"id", "paths", "width", "height", "content_hash", "metadata"}` and
/// `GET /v1/items/{id}/thumbnail?size=256` -> `image/png` fitting in size x size (16...1024),
/// never enlarged. Ids are decimal UInt64 (anything else: 400 `bad_id`); unknown ids 404.
enum ItemsRoutes {
    struct Item: Encodable, Sendable {
        var id: UInt64
        var paths: [String]
        var path_bytes: [String?]?
        var width: Int
        var height: Int
        var content_hash: String
        var file_size: UInt64
        var metadata: JSONValue
        var thumbnail: String
    }

    static func register(on router: Router<KestrelHTTP.Context>, service: SearchService) {
        router.get("/v1/items/{id}", use: Deadline.wrap(service) { _, context -> Response in
            let id = try QueryParsing.itemID(context.parameters.get("id"))
            guard let item = try await service.offload({ try service.catalog.store.item(id: id) }) else {
                throw APIError.notFound("no item has id \(id)")
            }
            let paths = item.paths.map(PathText.init)
            let anyBytes = paths.contains { $0.base64 != nil }
            return try jsonResponse(Item(id: id, paths: paths.map(\.text), path_bytes: anyBytes ? paths.map(\.base64) : nil,
                                     width: item.width, height: item.height, content_hash: item.contentHash, file_size: item.fileSize,
                                     metadata: item.metadata.flatMap(JSONValue.parse) ?? .null, thumbnail: "/v1/items/\(id)/thumbnail"))
        })
        router.get("/v1/items/{id}/thumbnail", use: Deadline.wrap(service) { request, context -> Response in
            let id = try QueryParsing.itemID(context.parameters.get("id"))
            var size = 256
            if let s = try QueryParsing.queryNumber(request, "size") { size = try QueryParsing.wholeNumber(s, field: "size", range: 16...1024) }
            let side = size
            let png = try await service.offload { () -> [UInt8] in
                guard let item = try service.catalog.store.item(id: id) else { throw APIError.notFound("no item has id \(id)") }
                let key = ThumbnailKey(contentHash: item.contentHash, size: side)
                if let cached = service.thumbnails.withLock({ $0.get(key) }) { return cached }
                let png = try thumbnail(of: item.paths, id: id, side: side, service: service)
                if png.count <= 256 << 10 { service.thumbnails.withLock { $0.put(key, png) } }   // at most 64 MiB cached
                return png
            }
            var headers = HTTPFields()
            headers[.contentType] = "image/png"
            headers[.cacheControl] = "private, max-age=300"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: png)))
        })
    }
}

extension ItemsRoutes {
    /// The item's thumbnail from the first of its paths that still holds a file that reads and
    /// decodes. When none does, the file changed on the server after it was catalogued: that is
    /// answered 404 `not_found` ("the item's file can no longer be read"), not a 4xx blaming the
    /// request (`bad_image`, `limit_exceeded`) and not a 500: the item exists but has no image to
    /// show until it is re-ingested, which a client can only treat as "no thumbnail". The cause
    /// goes to no response (it would name a server path).
    static func thumbnail(of paths: [FilePathBytes], id: UInt64, side: Int, service: SearchService) throws -> [UInt8] {
        for path in paths {
            guard let bytes = try? FileSystem.readFile(path, limit: Embedder.imageFileByteLimit) else { continue }
            guard let image = try? service.embedder.preprocessor.decoder.decode(bytes: bytes, name: "item \(id)") else { continue }
            return try Thumbnail.png(image, side: side)
        }
        throw APIError.notFound("item \(id)'s file can no longer be read on the server (moved, changed or damaged since it was catalogued)")
    }
}

/// Small RGB previews: box-filtered down to fit a square, encoded as PNG.
enum Thumbnail {
    /// `image` scaled (never enlarged) to fit `side` x `side`, as PNG bytes.
    static func png(_ image: DecodedImage, side: Int) throws -> [UInt8] {
        let rgb = toRGB(image)
        let w = image.width, h = image.height
        guard w > 0, h > 0 else { throw ImageError.corrupt(path: "thumbnail", detail: "empty image") }
        let scale = min(1, Double(side) / Double(max(w, h)))
        let ow = max(1, Int((Double(w) * scale).rounded())), oh = max(1, Int((Double(h) * scale).rounded()))
        var out = [UInt8](repeating: 0, count: ow * oh * 3)
        for oy in 0..<oh {
            let y0 = oy * h / oh, y1 = max(y0 + 1, (oy + 1) * h / oh)
            for ox in 0..<ow {
                let x0 = ox * w / ow, x1 = max(x0 + 1, (ox + 1) * w / ow)
                var sum = (0, 0, 0)
                for y in y0..<y1 {
                    var i = (y * w + x0) * 3
                    for _ in x0..<x1 {
                        sum.0 += Int(rgb[i]); sum.1 += Int(rgb[i + 1]); sum.2 += Int(rgb[i + 2])
                        i += 3
                    }
                }
                let n = (y1 - y0) * (x1 - x0)
                let o = (oy * ow + ox) * 3
                out[o] = UInt8((sum.0 + n / 2) / n); out[o + 1] = UInt8((sum.1 + n / 2) / n); out[o + 2] = UInt8((sum.2 + n / 2) / n)
            }
        }
        return try PNGEncoder.encode(pixels: out, width: ow, height: oh, channels: 3, name: "thumbnail")
    }

    /// Interleaved RGB of any decoded mode (alpha dropped).
    static func toRGB(_ im: DecodedImage) -> [UInt8] {
        if im.mode == .rgb { return im.pixels }
        let n = im.width * im.height
        var out = [UInt8](repeating: 0, count: n * 3)
        let px = im.pixels
        let c = im.mode.channels
        guard px.count >= n * c else { return out }
        for i in 0..<n {
            switch im.mode {
            case .bilevel, .gray, .grayAlpha:
                let l = px[c * i]; out[3 * i] = l; out[3 * i + 1] = l; out[3 * i + 2] = l
            case .rgb, .rgba:
                for k in 0..<3 { out[3 * i + k] = px[c * i + k] }
            case .palette:
                let e = 3 * Int(px[i])
                if e + 2 < im.palette.count { for k in 0..<3 { out[3 * i + k] = im.palette[e + k] } }
            case .cmyk:
                let nk = 255 - Int(px[4 * i + 3])
                for k in 0..<3 { out[3 * i + k] = UInt8(clamping: nk - Int(px[4 * i + k]) * nk / 255) }
            }
        }
        return out
    }
}
