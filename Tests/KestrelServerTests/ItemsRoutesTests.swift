import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
import KestrelServer
import KestrelTestSupport
import XCTest

final class ItemsRoutesTests: XCTestCase {
    typealias Kit = ServerTestKit

    func testAnItemAnswersItsRecord() async throws {
        let service = try Kit.service()
        let id = try Kit.id(of: "triangles/green_triangle.jpg", in: service.catalog)
        let item = try XCTUnwrap(try service.catalog.store.item(id: id))
        try await Kit.withClient(service) { client in
            let r = try await Kit.send(client, .get, "/v1/items/\(id)")
            XCTAssertEqual(r.status, .ok, r.text)
            let o = r.json()
            XCTAssertEqual((o["id"] as? NSNumber)?.uint64Value, id)
            XCTAssertEqual(o["paths"] as? [String], item.paths.map(\.lossyString))
            XCTAssertEqual((o["width"] as? NSNumber)?.intValue, item.width)
            XCTAssertEqual((o["height"] as? NSNumber)?.intValue, item.height)
            XCTAssertEqual(o["content_hash"] as? String, item.contentHash)
            XCTAssertTrue(o["metadata"] is NSNull)
            XCTAssertNil(o["path_bytes"])
            try await Kit.send(client, .get, "/v1/items/999999").assertError(.notFound, "not_found")
            for bad in ["-1", "1e3", "abc", "18446744073709551616", "%2E%2E%2Fx", "+1", "0x10", "1.0"] {
                try await Kit.send(client, .get, "/v1/items/\(bad)").assertError(.badRequest, "bad_id")
                try await Kit.send(client, .get, "/v1/items/\(bad)/thumbnail").assertError(.badRequest, "bad_id")
            }
        }
    }

    func testThumbnailsArePNGsFittingTheSize() async throws {
        let service = try Kit.service()
        let id = try Kit.id(of: "circles/blue_circle.png", in: service.catalog)
        let item = try XCTUnwrap(try service.catalog.store.item(id: id))
        try await Kit.withClient(service) { client in
            for size in [16, 64, 1024] {
                let r = try await Kit.send(client, .get, "/v1/items/\(id)/thumbnail?size=\(size)")
                XCTAssertEqual(r.status, .ok, r.text)
                XCTAssertEqual(r.headers[.contentType], "image/png")
                let image = try ImageDecoder().decode(bytes: r.body, name: "thumbnail")
                let expectedScale = min(1, Double(size) / Double(max(item.width, item.height)))
                XCTAssertEqual(max(image.width, image.height), Int((Double(max(item.width, item.height)) * expectedScale).rounded()))
                XCTAssertEqual(image.mode, .rgb)
            }
            let r = try await Kit.send(client, .get, "/v1/items/\(id)/thumbnail")
            XCTAssertEqual(r.status, .ok)
            // The picture is blue: the middle pixel's blue channel dominates.
            let image = try ImageDecoder().decode(bytes: r.body, name: "thumbnail")
            let mid = ((image.height / 2) * image.width + image.width / 2) * 3
            XCTAssertGreaterThan(Int(image.pixels[mid + 2]), Int(image.pixels[mid]) + 50)
            for bad in ["8", "2000", "abc", "64.5"] {
                try await Kit.send(client, .get, "/v1/items/\(id)/thumbnail?size=\(bad)").assertError(.badRequest, "bad_request", mentions: "size")
            }
            try await Kit.send(client, .get, "/v1/items/999999/thumbnail").assertError(.notFound, "not_found")
        }
    }

    /// A stored file that no longer decodes is 404 `not_found` ("can no longer be read"), never a
    /// 400 blaming the request; thumbnails already made are served from the cache by content hash.
    func testAThumbnailOfAFileDamagedOnTheServerIs404AndCachedOnesStay() async throws {
        let folder = Fixtures.temporaryDirectory("kestrel-thumbs")
        let file = folder.appendingPathComponent("kept.png")
        // A picture of its own (not a byte copy of a sample, which would be the same item).
        var rgb = try ImageDecoder().decode(bytes: Kit.sample("circles/red_circle.png"), name: "x")
        for i in 0..<min(30, rgb.pixels.count) { rgb.pixels[i] = rgb.pixels[i] &+ 7 }
        try Data(try PNGEncoder.encode(pixels: rgb.pixels, width: rgb.width, height: rgb.height, channels: 3)).write(to: file)
        let fixture = try ServerFixture.make()
        _ = try Ingestor(catalog: fixture.catalog, embedder: fixture.embedder).run([FilePathBytes(folder.path)])
        let path = try XCTUnwrap(try fixture.catalog.store.paths().first { $0.lossyString.hasSuffix("/kept.png") })
        let id = try XCTUnwrap(try fixture.catalog.store.lookup(path: path)).id
        try await Kit.withClient(fixture.service) { client in
            let made = try await Kit.send(client, .get, "/v1/items/\(id)/thumbnail?size=64")
            XCTAssertEqual(made.status, .ok)
            // The file is damaged after it was catalogued.
            try Data("not a picture any more".utf8).write(to: file)
            let cached = try await Kit.send(client, .get, "/v1/items/\(id)/thumbnail?size=64")
            XCTAssertEqual(cached.status, .ok)
            XCTAssertEqual(cached.body, made.body)
            let fresh = try await Kit.send(client, .get, "/v1/items/\(id)/thumbnail?size=65")
            fresh.assertError(.notFound, "not_found", mentions: "can no longer be read")
            // Removed altogether: the same.
            try FileManager.default.removeItem(at: file)
            try await Kit.send(client, .get, "/v1/items/\(id)/thumbnail?size=66").assertError(.notFound, "not_found")
        }
    }
}
