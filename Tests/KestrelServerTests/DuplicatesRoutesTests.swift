import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
import KestrelServer
import KestrelTestSupport
import XCTest

final class DuplicatesRoutesTests: XCTestCase {
    typealias Kit = ServerTestKit

    func testNearDuplicatesAreGrouped() async throws {
        // The samples plus a copy of one with a few pixels changed (other bytes, same picture).
        let folder = Fixtures.temporaryDirectory("kestrel-dups")
        let original = try ImageDecoder().decode(bytes: Kit.sample("circles/red_circle.png"), name: "x")
        var rgb = original
        XCTAssertEqual(rgb.mode, .rgb)
        for i in 0..<min(30, rgb.pixels.count) { rgb.pixels[i] = rgb.pixels[i] &+ 3 }
        let copy = try PNGEncoder.encode(pixels: rgb.pixels, width: rgb.width, height: rgb.height, channels: 3)
        try Data(copy).write(to: folder.appendingPathComponent("red_circle_copy.png"))
        let fixture = try ServerFixture.make()
        _ = try Ingestor(catalog: fixture.catalog, embedder: fixture.embedder).run([FilePathBytes(folder.path)])
        let a = try Kit.id(of: "circles/red_circle.png", in: fixture.catalog)
        // The copy's path as the catalog stored it (the temporary folder may be reached through a link).
        let copyPath = try XCTUnwrap(try fixture.catalog.store.paths().first { $0.lossyString.hasSuffix("/red_circle_copy.png") })
        let b = try XCTUnwrap(try fixture.catalog.store.lookup(path: copyPath)).id
        XCTAssertNotEqual(a, b)
        try await Kit.withClient(fixture.service) { client in
            let r = try await Kit.send(client, .get, "/v1/duplicates?threshold=0.99&limit=10")
            XCTAssertEqual(r.status, .ok, r.text)
            let o = r.json()
            XCTAssertEqual((o["threshold"] as? NSNumber)?.doubleValue, 0.99)
            let groups = o["groups"] as? [[String: Any]] ?? []
            let withA = groups.first { (($0["ids"] as? [NSNumber]) ?? []).map(\.uint64Value).contains(a) }
            let ids = ((withA?["ids"] as? [NSNumber]) ?? []).map(\.uint64Value)
            XCTAssertTrue(ids.contains(b), r.text)
            XCTAssertGreaterThanOrEqual((withA?["min_score"] as? NSNumber)?.floatValue ?? 0, 0.99)
            // Every group's ids are distinct and sorted; limit caps the count.
            for g in groups {
                let ids = ((g["ids"] as? [NSNumber]) ?? []).map(\.uint64Value)
                XCTAssertEqual(ids, ids.sorted())
                XCTAssertEqual(Set(ids).count, ids.count)
            }
            let one = try await Kit.send(client, .get, "/v1/duplicates?threshold=0.1&limit=1")
            XCTAssertEqual((one.json()["groups"] as? [Any])?.count, 1)
            for bad in ["threshold=0", "threshold=1.5", "threshold=abc", "limit=0", "limit=2.5", "limit=100000"] {
                try await Kit.send(client, .get, "/v1/duplicates?\(bad)").assertError(.badRequest, "bad_request")
            }
        }
    }
}
