import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
import KestrelServer
import KestrelTestSupport
import XCTest

final class EmbedRoutesTests: XCTestCase {
    typealias Kit = ServerTestKit

    func testTextEmbeddingsAreTheEmbeddersUnitVectorsInOrder() async throws {
        let service = try Kit.service()
        let texts = ["a red circle", "a blue square", "x"]
        let expected = try service.embedder.embedTexts(texts)
        let d = expected.lastDim
        try await Kit.withClient(service) { client in
            let r = try await Kit.json(client, "/v1/embed/text", ["texts": texts])
            XCTAssertEqual(r.status, .ok, r.text)
            let rows = (r.json()["embeddings"] as? [[NSNumber]] ?? []).map { $0.map(\.floatValue) }
            XCTAssertEqual(rows.count, 3)
            for (i, row) in rows.enumerated() {
                XCTAssertEqual(row.count, d)
                for j in 0..<d { XCTAssertEqual(row[j], expected.data[i * d + j], accuracy: 1e-6) }
                XCTAssertEqual(row.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-4)
            }
            XCTAssertEqual((r.json()["model"] as? [String: Any])?["fingerprint"] as? String, service.identity.fingerprint)
            for (body, mention) in [(["texts": "a"] as [String: Any], "texts"), (["texts": []], "texts"), (["texts": ["a", 3]], "texts[1]"),
                                    ([:], "texts"), (["texts": ["a"], "extra": 1], "extra")] {
                try await Kit.json(client, "/v1/embed/text", body).assertError(.badRequest, "bad_request", mentions: mention)
            }
        }
    }

    func testImageEmbeddingEqualsTheStoredVector() async throws {
        let service = try Kit.service()
        let id = try Kit.id(of: "squares/red_square.jpg", in: service.catalog)
        let stored = try service.catalog.queryVector(.like(id), embedder: { service.embedder })
        let jpeg = try Kit.sample("squares/red_square.jpg")
        try await Kit.withClient(service) { client in
            var headers = HTTPFields()
            headers[.contentType] = "image/jpeg"
            let r = try await Kit.send(client, .post, "/v1/embed/image", body: jpeg, headers: headers)
            XCTAssertEqual(r.status, .ok, r.text)
            let v = (r.json()["embedding"] as? [NSNumber] ?? []).map(\.floatValue)
            XCTAssertEqual(v.count, stored.count)
            let cosine = zip(v, stored).reduce(0) { $0 + $1.0 * $1.1 }
            XCTAssertGreaterThan(cosine, 0.999)
        }
    }
}
