import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
@testable import KestrelServer
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

    /// The groups come from exact cosines of the stored vectors: the same as a brute-force pass
    /// over every pair (the sample catalog is smaller than the neighbour count, so every pair is a
    /// candidate).
    func testGroupsEqualABruteForcePassOverExactCosines() async throws {
        let f = try Kit.shared()
        let (ids, values) = try f.catalog.store.allVectors()
        XCTAssertLessThanOrEqual(ids.count, DuplicateFinder.neighbours)
        let d = f.catalog.store.identity.dimension
        let rows = (0..<ids.count).map { unit(Array(values[($0 * d)..<(($0 + 1) * d)])) }
        var links: [DuplicateFinder.Link] = []
        for i in ids.indices { for j in ids.indices where i < j {
            let dot = zip(rows[i], rows[j]).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            links.append(.init(a: min(ids[i], ids[j]), b: max(ids[i], ids[j]), score: dot))
        } }
        links.sort { $0.score > $1.score }
        let exact = links
        let service = try Kit.service()
        try await Kit.withClient(service) { client in
            for threshold in [0.5, 0.7, 0.8, 0.9] {
                let expected = DuplicateFinder.groups(exact, threshold: Float(threshold), limit: 100)
                let r = try await Kit.send(client, .get, "/v1/duplicates?threshold=\(threshold)")
                XCTAssertEqual(r.status, .ok, r.text)
                let groups = (r.json()["groups"] as? [[String: Any]] ?? []).map { g in
                    (((g["ids"] as? [NSNumber]) ?? []).map(\.uint64Value), (g["min_score"] as? NSNumber)?.floatValue ?? -1)
                }
                XCTAssertEqual(groups.map(\.0), expected.map(\.ids), "threshold \(threshold)")
                for (g, e) in zip(groups, expected) { XCTAssertEqual(g.1, e.minScore, accuracy: 1e-4) }
            }
        }
        // One computation for every threshold of this index version.
        XCTAssertFalse(service.duplicates.isComputing)
    }

    /// While the links are computed the answer is 503 `not_ready` with Retry-After; once ready
    /// every request of that version is answered from them (one computation), and a new version
    /// computes again.
    func testLinksAreComputedOncePerVersionInTheBackground() async throws {
        let f = try Kit.shared()
        let finder = DuplicateFinder(catalog: f.catalog)
        let gate = Gate()
        let computed = Counter()
        let v1 = DuplicateFinder.Version(index: ObjectIdentifier(f.catalog.index), sequence: 1)
        let v2 = DuplicateFinder.Version(index: ObjectIdentifier(f.catalog.index), sequence: 2)
        let compute: (DuplicateFinder.Version) -> DuplicateFinder.Compute = { version in
            { _ in
                computed.add()
                let semaphore = DispatchSemaphore(value: 0)
                Task { try? await gate.wait(); semaphore.signal() }
                semaphore.wait()
                return .init(version: version, links: [.init(a: 1, b: 2, score: 0.99)])
            }
        }
        let now: Deadline.Sleep = { _ in }   // the wait ends at once
        do {
            _ = try await finder.links(version: v1, wait: 1, sleep: now, compute: compute(v1))
            XCTFail("answered before the computation ended")
        } catch let e as APIError {
            XCTAssertEqual(e.code, "not_ready")
            XCTAssertEqual(e.status, .serviceUnavailable)
            XCTAssertEqual(e.headers[.retryAfter], "2")
        }
        XCTAssertTrue(finder.isComputing)
        // Another version while one runs: not ready at once, nothing more started.
        do { _ = try await finder.links(version: v2, wait: 1, sleep: now, compute: compute(v2)); XCTFail("answered") }
        catch let e as APIError { XCTAssertEqual(e.code, "not_ready") }
        gate.open()
        let never: Deadline.Sleep = { _ in try await Gate().wait() }
        let links = try await finder.links(version: v1, wait: 1, sleep: never, compute: compute(v1))
        XCTAssertEqual(links.links.count, 1)
        _ = try await finder.links(version: v1, wait: 1, sleep: never, compute: compute(v1))
        XCTAssertEqual(computed.value, 1)
        while finder.isComputing { await Task.yield() }
        let second = try await finder.links(version: v2, wait: 1, sleep: never, compute: compute(v2))
        XCTAssertEqual(second.version, v2)
        XCTAssertEqual(computed.value, 2)
        XCTAssertEqual(DuplicateFinder.groups(links.links, threshold: 0.95, limit: 10), [.init(ids: [1, 2], minScore: 0.99)])
        XCTAssertEqual(DuplicateFinder.groups(links.links, threshold: 0.995, limit: 10), [])
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}
