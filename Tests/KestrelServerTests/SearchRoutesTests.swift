import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
@testable import KestrelServer
import KestrelTestSupport
import XCTest

final class SearchRoutesTests: XCTestCase {
    typealias Kit = ServerTestKit

    func testTextSearchAnswersTheEnginesResultsBestFirstWithEveryField() async throws {
        let service = try Kit.service()
        let catalog = service.catalog
        let expected = try Kit.engineSearch(catalog, service.embedder.embedTexts(["a red circle"]).data, k: 3)
        try await Kit.withClient(service) { client in
            let r = try await Kit.json(client, "/v1/search", ["text": "a red circle", "k": 3])
            XCTAssertEqual(r.status, .ok, r.text)
            let o = r.json()
            let results = o["results"] as? [[String: Any]] ?? []
            XCTAssertEqual(results.compactMap { ($0["id"] as? NSNumber)?.uint64Value }, expected)
            let scores = results.compactMap { ($0["score"] as? NSNumber)?.floatValue }
            XCTAssertEqual(scores, scores.sorted(by: >))
            for hit in results {
                let id = (hit["id"] as? NSNumber)?.uint64Value ?? 0
                let item = try catalog.store.item(id: id)
                XCTAssertEqual(hit["path"] as? String, item?.paths.first?.lossyString)
                XCTAssertEqual((hit["width"] as? NSNumber)?.intValue, item?.width)
                XCTAssertEqual((hit["height"] as? NSNumber)?.intValue, item?.height)
                XCTAssertTrue(hit["metadata"] is NSNull)
                XCTAssertEqual(hit["thumbnail"] as? String, "/v1/items/\(id)/thumbnail")
            }
            let model = o["model"] as? [String: Any]
            XCTAssertEqual(model?["fingerprint"] as? String, service.identity.fingerprint)
            XCTAssertEqual((model?["dimension"] as? NSNumber)?.intValue, service.identity.dimension)
            XCTAssertNotNil(o["took_ms"] as? NSNumber)
            // Default k is 10 (more than the 12 samples' half, fewer than all).
            let d = try await Kit.json(client, "/v1/search", ["text": "a red circle"])
            XCTAssertEqual((d.json()["results"] as? [Any])?.count, 10)
        }
    }

    func testWeightedTermsSearchTheNormalisedWeightedSum() async throws {
        let service = try Kit.service()
        let e = try service.embedder.embedTexts(["red", "circle"])
        let d = e.lastDim
        let v = unit((0..<d).map { e.data[$0] * 1 - 0.5 * e.data[d + $0] })
        let expected = try Kit.engineSearch(service.catalog, v, k: 5)
        try await Kit.withClient(service) { client in
            let r = try await Kit.json(client, "/v1/search", ["text": [["query": "red", "weight": 1], ["query": "circle", "weight": -0.5]], "k": 5])
            XCTAssertEqual(r.status, .ok, r.text)
            let ids = (r.json()["results"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? NSNumber)?.uint64Value }
            XCTAssertEqual(ids, expected)
        }
    }

    func testImageIdsFindSimilarItemsAndLeaveThemOut() async throws {
        let service = try Kit.service()
        let a = try Kit.id(of: "circles/red_circle.png", in: service.catalog)
        let b = try Kit.id(of: "squares/blue_square.jpg", in: service.catalog)
        let va = try service.catalog.queryVector(.like(a), embedder: { service.embedder })
        let vb = try service.catalog.queryVector(.like(b), embedder: { service.embedder })
        let sum = unit(zip(va, vb).map { $0 + 0.5 * $1 })
        let expected = try Kit.engineSearch(service.catalog, sum, k: 12).filter { $0 != a && $0 != b }.prefix(4)
        try await Kit.withClient(service) { client in
            let r = try await Kit.json(client, "/v1/search", ["image_ids": [["id": a], ["id": b, "weight": 0.5]], "k": 4])
            XCTAssertEqual(r.status, .ok, r.text)
            let ids = (r.json()["results"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? NSNumber)?.uint64Value }
            XCTAssertEqual(ids, Array(expected))
            XCTAssertFalse(ids.contains(a) || ids.contains(b))
            let plain = try await Kit.json(client, "/v1/search", ["image_ids": [a], "k": 11])
            let all = (plain.json()["results"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? NSNumber)?.uint64Value }
            XCTAssertEqual(all.count, 11)
            XCTAssertFalse(all.contains(a))
            // Unknown item: 404.
            try await Kit.json(client, "/v1/search", ["image_ids": [987_654]]).assertError(.notFound, "not_found")
        }
    }

    func testPathPrefixAndMinScoreNarrowTheResults() async throws {
        let service = try Kit.service()
        let prefix = Fixtures.repoRoot.appendingPathComponent("samples/images/circles").path + "/"
        try await Kit.withClient(service) { client in
            let r = try await Kit.json(client, "/v1/search", ["text": "a shape", "k": 10, "path_prefix": prefix])
            let hits = r.json()["results"] as? [[String: Any]] ?? []
            XCTAssertEqual(hits.count, 4)
            XCTAssertTrue(hits.allSatisfy { ($0["path"] as? String ?? "").hasPrefix(prefix) })
            let all = try await Kit.json(client, "/v1/search", ["text": "a shape", "k": 12])
            let scores = (all.json()["results"] as? [[String: Any]] ?? []).compactMap { ($0["score"] as? NSNumber)?.doubleValue }
            XCTAssertEqual(scores.count, 12)
            let bound = scores[4]
            let m = try await Kit.json(client, "/v1/search", ["text": "a shape", "k": 12, "min_score": bound])
            let kept = (m.json()["results"] as? [[String: Any]] ?? []).compactMap { ($0["score"] as? NSNumber)?.doubleValue }
            XCTAssertEqual(kept.count, scores.filter { Float($0) >= Float(bound) }.count)
            XCTAssertTrue(kept.allSatisfy { Float($0) >= Float(bound) })
        }
    }

    func testMetadataFiltersMatchTopLevelFieldsExactly() async throws {
        let fixture = try ServerFixture.make()
        let red = try Kit.id(of: "circles/red_circle.png", in: fixture.catalog)
        let blue = try Kit.id(of: "circles/blue_circle.png", in: fixture.catalog)
        let green = try Kit.id(of: "squares/green_square.png", in: fixture.catalog)
        try fixture.catalog.store.setMetadata(id: red, json: #"{"album": "summer", "year": 2024, "tags": ["a"]}"#)
        try fixture.catalog.store.setMetadata(id: blue, json: #"{"album": "summer", "year": 2023}"#)
        try fixture.catalog.store.setMetadata(id: green, json: #"{"album": "winter", "year": 2024}"#)
        try await Kit.withClient(fixture.service) { client in
            func ids(_ filters: [String: Any]) async throws -> Set<UInt64> {
                let r = try await Kit.json(client, "/v1/search", ["text": "a shape", "k": 12, "filters": filters])
                XCTAssertEqual(r.status, .ok, r.text)
                return Set((r.json()["results"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? NSNumber)?.uint64Value })
            }
            let summer = try await ids(["album": "summer"])
            XCTAssertEqual(summer, [red, blue])
            let y2024 = try await ids(["year": 2024])
            XCTAssertEqual(y2024, [red, green])
            let both = try await ids(["album": "summer", "year": 2024])
            XCTAssertEqual(both, [red])
            let none = try await ids(["album": "spring"])
            XCTAssertEqual(none, [])
            let tags = try await ids(["tags": ["a"]])
            XCTAssertEqual(tags, [red])
            // The metadata comes back as an object.
            let r = try await Kit.json(client, "/v1/search", ["text": "a shape", "k": 1, "filters": ["album": "winter"]])
            let hit = (r.json()["results"] as? [[String: Any]])?.first
            XCTAssertEqual((hit?["metadata"] as? [String: Any])?["album"] as? String, "winter")
        }
    }

    func testEveryBadFieldIsA400NamingIt() async throws {
        var configuration = ServerConfiguration()
        configuration.limits.maxQueryCharacters = 50
        configuration.limits.maxBatch = 4
        let service = try Kit.service(configuration)
        try await Kit.withClient(service) { client in
            let cases: [(Any, String, String?, String?)] = [
                (["text": "a", "k": 0], "limit_exceeded", "k", nil),
                (["text": "a", "k": -1], "limit_exceeded", "k", nil),
                (["text": "a", "k": 1_000_000_000_000], "limit_exceeded", "k", nil),
                (["text": "a", "k": 2.5], "bad_request", nil, "k"),
                (["text": "a", "k": "3"], "bad_request", nil, "k"),
                (["text": "a", "min_score": "high"], "bad_request", nil, "min_score"),
                (["text": "a", "min_score": 1e300], "bad_request", nil, "min_score"),
                (["text": String(repeating: "x", count: 51)], "limit_exceeded", "query_characters", nil),
                (["text": 5], "bad_request", nil, "text"),
                (["text": ""], "bad_request", nil, "text"),
                (["text": [["query": 3]]], "bad_request", nil, "text[0].query"),
                (["text": [["query": "a", "weight": "x"]]], "bad_request", nil, "text[0].weight"),
                (["text": ["a", "b", "c", "d", "e"]], "limit_exceeded", "batch_size", nil),
                (["text": [["query": "a", "weight": 1], ["query": "a", "weight": -1]]], "bad_request", nil, "cancel"),
                (["k": 3], "bad_request", nil, "image_ids"),
                (["image_ids": [-1]], "bad_id", nil, "image_ids[0]"),
                (["image_ids": [1.5]], "bad_id", nil, "image_ids[0]"),
                (["image_ids": "1"], "bad_request", nil, "image_ids"),
                (["text": "a", "path_prefix": 3], "bad_request", nil, "path_prefix"),
                (["text": "a", "filters": "album"], "bad_request", nil, "filters"),
                (["text": "a", "limit": 3], "bad_request", nil, "limit"),
                ([1, 2], "bad_request", nil, "object"),
            ]
            for (body, code, limit, mention) in cases {
                let r = try await Kit.json(client, "/v1/search", body)
                r.assertError(.badRequest, code, limit: limit, mentions: mention)
            }
            try await Kit.raw(client, "/v1/search", #"{"text": "a", "k": }"#).assertError(.badRequest, "bad_request", mentions: "JSON")
            // Deep nesting is refused by the parser, not a stack overflow.
            let deep = "{\"text\": \"a\", \"filters\": {\"x\": " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}}"
            try await Kit.raw(client, "/v1/search", deep).assertError(.badRequest, "bad_request")
            try await Kit.raw(client, "/v1/search", #"{"text": "a", "min_score": NaN}"#).assertError(.badRequest, "bad_request")
            try await Kit.send(client, .post, "/v1/search", body: [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D]).assertError(.badRequest, "bad_request", mentions: "UTF-8")
            try await Kit.raw(client, "/v1/search", #"{"text": "a"}"#, contentType: "text/plain").assertError(.unsupportedMediaType, "unsupported_media_type")
        }
    }

    func testImageSearchFindsTheSameImageFirst() async throws {
        let service = try Kit.service()
        let id = try Kit.id(of: "circles/red_circle.png", in: service.catalog)
        let png = try Kit.sample("circles/red_circle.png")
        try await Kit.withClient(service) { client in
            var headers = HTTPFields()
            headers[.contentType] = "image/png"
            let raw = try await Kit.send(client, .post, "/v1/search/image?k=3", body: png, headers: headers)
            XCTAssertEqual(raw.status, .ok, raw.text)
            let hits = raw.json()["results"] as? [[String: Any]] ?? []
            XCTAssertEqual(hits.count, 3)
            XCTAssertEqual((hits.first?["id"] as? NSNumber)?.uint64Value, id)
            XCTAssertGreaterThan((hits.first?["score"] as? NSNumber)?.floatValue ?? 0, 0.999)
            let multipart = try await Kit.upload(client, "/v1/search/image?k=2&min_score=-1", image: png)
            XCTAssertEqual(((multipart.json()["results"] as? [[String: Any]])?.first?["id"] as? NSNumber)?.uint64Value, id)
            for (query, code, limit) in [("k=0", "limit_exceeded", "k"), ("k=-1", "limit_exceeded", "k"), ("k=1000000000000", "limit_exceeded", "k"),
                                         ("k=abc", "bad_request", nil), ("min_score=nan", "bad_request", nil), ("min_score=inf", "bad_request", nil)] {
                try await Kit.send(client, .post, "/v1/search/image?\(query)", body: png, headers: headers).assertError(.badRequest, code, limit: limit)
            }
            try await Kit.upload(client, "/v1/search/image", image: nil, fields: [("x", "y")]).assertError(.badRequest, "bad_upload")
        }
    }

    /// A filter nothing matches: the search looks no deeper than its cap and says so with
    /// `truncated` when the cap, not the index, ended it.
    func testFilteredSearchDepthIsCappedAndReportsTruncation() async throws {
        let service = try Kit.service()
        let vector = try await service.textVector("a red circle")
        let total = service.catalog.index.count
        XCTAssertGreaterThan(total, 10)
        let nothing: [String: JSONValue] = ["album": .string("no such album")]
        // k 1 and a floor of 3: at most max(10 x 1, 3) = 10 candidates, fewer than the index holds.
        let capped = try SearchRoutes.run(vector: vector, options: SearchOptions(k: 1), excluding: [], filters: nothing,
                                          service: service, check: CancellationCheck(), depthFloor: 3)
        XCTAssertEqual(capped.hits.count, 0)
        XCTAssertTrue(capped.truncated)
        let whole = try SearchRoutes.run(vector: vector, options: SearchOptions(k: 2), excluding: [], filters: nothing,
                                         service: service, check: CancellationCheck())
        XCTAssertFalse(whole.truncated)   // the cap (2048) is past the index: all of it was looked at
        XCTAssertEqual(SearchRoutes.filterDepth(k: 5, total: 100_000), 2048)
        XCTAssertEqual(SearchRoutes.filterDepth(k: 1000, total: 100_000), 10_000)
        XCTAssertEqual(SearchRoutes.filterDepth(k: 5, total: 12), 12)
        // A cancelled check stops the search.
        let cancelled = CancellationCheck()
        cancelled.cancel()
        XCTAssertThrowsError(try SearchRoutes.run(vector: vector, options: SearchOptions(k: 2), excluding: [], filters: nothing,
                                                  service: service, check: cancelled))
        try await Kit.withClient(service) { client in
            let r = try await Kit.json(client, "/v1/search", ["text": "a red circle", "k": 2])
            XCTAssertEqual(r.json()["truncated"] as? Bool, false, r.text)
        }
    }
}
