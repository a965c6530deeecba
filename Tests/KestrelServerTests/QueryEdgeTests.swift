import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelServer
import XCTest

/// Inputs a hostile tryout found mishandled: huge term weights (summed in Float they overflowed
/// and one positive term was reported as "cancelling out"; 1e39 was called not finite), and a
/// multipart body with two `image` parts (the last was used silently).
final class QueryEdgeTests: XCTestCase {
    typealias Kit = ServerTestKit

    func testOnlyTheRatiosOfWeightsMatterHoweverLarge() async throws {
        let service = try Kit.service()
        try await Kit.withClient(service) { client in
            let plain = try await Kit.json(client, "/v1/search", ["text": "a red circle", "k": 5])
            XCTAssertEqual(plain.status, .ok, plain.text)
            let ids = (plain.json()["results"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
            XCTAssertEqual(ids.count, 5)
            for w in [1e30, 3.4e38, 1e39, 1e300, 1e-300] {
                let r = try await Kit.json(client, "/v1/search", ["text": [["query": "a red circle", "weight": w]], "k": 5])
                XCTAssertEqual(r.status, .ok, "weight \(w): \(r.text)")
                XCTAssertEqual((r.json()["results"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }, ids, "weight \(w)")
            }
            // Two terms scaled by the same huge factor rank as the unscaled pair.
            let pair = try await Kit.json(client, "/v1/search", ["text": [["query": "red", "weight": 1], ["query": "circle", "weight": -0.5]], "k": 5])
            let big = try await Kit.json(client, "/v1/search", ["text": [["query": "red", "weight": 1e300], ["query": "circle", "weight": -0.5e300]], "k": 5])
            XCTAssertEqual((big.json()["results"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int },
                           (pair.json()["results"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int })
        }
    }

    func testTwoImagePartsAreRefused() async throws {
        let service = try Kit.service()
        let png = try Kit.sample("circles/red_circle.png")
        let boundary = "two-images"
        var body: [UInt8] = []
        for _ in 0..<2 {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n".utf8) + png + Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        let request = body
        let headers: HTTPFields = [.contentType: "multipart/form-data; boundary=\(boundary)"]
        try await Kit.withClient(service) { client in
            for route in ["/v1/embed/image", "/v1/search/image"] {
                try await Kit.send(client, .post, route, body: request, headers: headers).assertError(.badRequest, "bad_upload", mentions: "more than one")
            }
        }
    }
}
