import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
import KestrelServer
import KestrelTestSupport
import XCTest

final class LimitsTests: XCTestCase {
    typealias Kit = ServerTestKit

    /// A PNG whose header claims `width` x `height` pixels and holds no image data.
    static func pngHeader(width: UInt32, height: UInt32) -> [UInt8] {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 255), UInt8((v >> 8) & 255), UInt8(v & 255)] }
        let ihdr: [UInt8] = Array("IHDR".utf8) + be(width) + be(height) + [8, 2, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + be(13) + ihdr + be(crc32(ihdr))
            + be(0) + Array("IEND".utf8) + be(crc32(Array("IEND".utf8)))
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return c ^ 0xFFFF_FFFF
    }

    func testAHeaderClaimingTooManyPixelsIsRefusedBeforeDecoding() async throws {
        let service = try Kit.service()
        let bomb = Self.pngHeader(width: 100_000, height: 100_000)
        try await Kit.withClient(service) { client in
            var headers = HTTPFields()
            headers[.contentType] = "image/png"
            for route in ["/v1/search/image", "/v1/embed/image"] {
                try await Kit.send(client, .post, route, body: bomb, headers: headers)
                    .assertError(.badRequest, "limit_exceeded", limit: "image_pixels")
            }
            try await Kit.upload(client, "/v1/label", image: bomb, fields: [("labels", #"["a","b"]"#)])
                .assertError(.badRequest, "limit_exceeded", limit: "image_pixels")
        }
    }

    func testTheConfiguredPixelLimitApplies() async throws {
        var configuration = ServerConfiguration()
        configuration.limits.maxImagePixels = 100
        let service = try Kit.service(configuration)
        let png = try Kit.sample("circles/red_circle.png")
        try await Kit.withClient(service) { client in
            let r = try await Kit.upload(client, "/v1/embed/image", image: png)
            r.assertError(.badRequest, "limit_exceeded", limit: "image_pixels")
            XCTAssertEqual(((r.json()["error"] as? [String: Any])?["limit"] as? [String: Any])?["value"] as? Int, 100)
        }
    }

    func testTruncatedCorruptAndEmptyImagesAre400() async throws {
        let service = try Kit.service()
        let jpeg = try Kit.sample("squares/red_square.jpg")
        let png = try Kit.sample("circles/red_circle.png")
        try await Kit.withClient(service) { client in
            var headers = HTTPFields()
            headers[.contentType] = "application/octet-stream"
            for bad in [Array(jpeg.prefix(jpeg.count / 2)), Array(png.prefix(png.count - 40)), Array("not an image at all".utf8),
                        [0xFF, 0xD8, 0xFF] + [UInt8](repeating: 0x11, count: 200)] {
                try await Kit.send(client, .post, "/v1/embed/image", body: bad, headers: headers).assertError(.badRequest, "bad_image")
            }
            try await Kit.send(client, .post, "/v1/embed/image", body: [], headers: headers).assertError(.badRequest, "empty_image")
            headers[.contentType] = "text/plain"
            try await Kit.send(client, .post, "/v1/embed/image", body: png, headers: headers).assertError(.unsupportedMediaType, "unsupported_media_type")
        }
    }

    func testBodiesPastTheLimitAre413() async throws {
        var configuration = ServerConfiguration()
        configuration.limits.maxBodyBytes = 1000
        configuration.limits.maxJSONBodyBytes = 1000
        let service = try Kit.service(configuration)
        try await Kit.withClient(service) { client in
            try await Kit.json(client, "/v1/search", ["text": String(repeating: "a ", count: 600)])
                .assertError(.contentTooLarge, "limit_exceeded", limit: "json_body_bytes")
            try await Kit.json(client, "/v1/embed/text", ["texts": [String(repeating: "a ", count: 600)]])
                .assertError(.contentTooLarge, "limit_exceeded", limit: "json_body_bytes")
            // The body limit is checked before the image is looked at.
            try await Kit.upload(client, "/v1/embed/image", image: [UInt8](repeating: 0x42, count: 5000))
                .assertError(.contentTooLarge, "limit_exceeded", limit: "body_bytes")
        }
    }

    func testBatchAndQueryLengthLimits() async throws {
        var configuration = ServerConfiguration()
        configuration.limits.maxBatch = 3
        configuration.limits.maxQueryCharacters = 10
        let service = try Kit.service(configuration)
        try await Kit.withClient(service) { client in
            try await Kit.json(client, "/v1/embed/text", ["texts": ["a", "b", "c", "d"]]).assertError(.badRequest, "limit_exceeded", limit: "batch_size")
            try await Kit.json(client, "/v1/embed/text", ["texts": ["abcdefghijk"]]).assertError(.badRequest, "limit_exceeded", limit: "query_characters")
            // Characters are Unicode scalars, not bytes: ten 2-byte letters pass.
            let ok = try await Kit.json(client, "/v1/embed/text", ["texts": [String(repeating: "é", count: 10)]])
            XCTAssertEqual(ok.status, .ok, ok.text)
            try await Kit.json(client, "/v1/search", ["image_ids": [1, 2, 3, 4]]).assertError(.badRequest, "limit_exceeded", limit: "batch_size")
            try await Kit.upload(client, "/v1/label", image: try Kit.sample("circles/red_circle.png"), fields: [("labels", #"["a","b","c","d"]"#)])
                .assertError(.badRequest, "limit_exceeded", limit: "batch_size")
        }
    }
}
