import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
import KestrelServer
import KestrelTestSupport
import XCTest

final class LabelRoutesTests: XCTestCase {
    typealias Kit = ServerTestKit

    func testLabelsAnswerTheClassifiersProbabilitiesBestFirst() async throws {
        let service = try Kit.service()
        let png = try Kit.sample("circles/red_circle.png")
        let labels = ["circle", "square", "triangle"]
        let templates = ["a photo of a {}.", "a drawing of a {}."]
        let classifier = try ZeroShotClassifier(embedder: service.embedder, labels: labels, templates: templates)
        let prepared = try service.embedder.prepare(bytes: png, name: "x")
        let expected = classifier.classify(try service.embedder.embedPixels([prepared.pixels]).data)
        try await Kit.withClient(service) { client in
            let r = try await Kit.upload(client, "/v1/label", image: png,
                                         fields: [("labels", #"["circle","square","triangle"]"#), ("templates", #"["a photo of a {}.","a drawing of a {}."]"#)])
            XCTAssertEqual(r.status, .ok, r.text)
            let o = r.json()
            let entries = o["labels"] as? [[String: Any]] ?? []
            XCTAssertEqual(entries.count, 3)
            let probs = entries.compactMap { ($0["probability"] as? NSNumber)?.floatValue }
            XCTAssertEqual(probs, probs.sorted(by: >))
            XCTAssertEqual(probs.reduce(0, +), 1, accuracy: 1e-4)
            XCTAssertEqual(o["best"] as? String, labels[expected.best])
            XCTAssertEqual(entries.first?["label"] as? String, labels[expected.best])
            for e in entries {
                guard let label = e["label"] as? String, let i = labels.firstIndex(of: label) else { XCTFail("unknown label"); continue }
                XCTAssertEqual((e["probability"] as? NSNumber)?.floatValue ?? -1, expected.probabilities[i], accuracy: 1e-5)
                XCTAssertEqual((e["cosine"] as? NSNumber)?.floatValue ?? -9, expected.cosines[i], accuracy: 1e-5)
            }
            // A raw image with ?labels= (the default template ensemble).
            var headers = HTTPFields()
            headers[.contentType] = "image/png"
            let q = try await Kit.send(client, .post, "/v1/label?labels=circle,square", body: png, headers: headers)
            XCTAssertEqual(q.status, .ok, q.text)
            XCTAssertEqual((q.json()["labels"] as? [Any])?.count, 2)
        }
    }

    func testBadLabelRequestsAre400() async throws {
        let service = try Kit.service()
        let png = try Kit.sample("circles/red_circle.png")
        try await Kit.withClient(service) { client in
            try await Kit.upload(client, "/v1/label", image: png).assertError(.badRequest, "bad_request", mentions: "labels")
            try await Kit.upload(client, "/v1/label", image: png, fields: [("labels", "cat, dog")]).assertError(.badRequest, "bad_request", mentions: "labels")
            try await Kit.upload(client, "/v1/label", image: png, fields: [("labels", "[]")]).assertError(.badRequest, "bad_request", mentions: "labels")
            try await Kit.upload(client, "/v1/label", image: png, fields: [("labels", #"["cat", 3]"#)]).assertError(.badRequest, "bad_request", mentions: "labels[1]")
            try await Kit.upload(client, "/v1/label", image: png, fields: [("labels", #"["cat","cat"]"#)]).assertError(.badRequest, "bad_request", mentions: "twice")
            try await Kit.upload(client, "/v1/label", image: png, fields: [("labels", #"["cat","CAT"]"#)]).assertError(.badRequest, "bad_request", mentions: "labels")
            try await Kit.upload(client, "/v1/label", image: png, fields: [("labels", #"["cat","dog"]"#), ("templates", #"["no slot"]"#)])
                .assertError(.badRequest, "bad_request", mentions: "templates")
            try await Kit.upload(client, "/v1/label", image: Array("garbage".utf8), fields: [("labels", #"["cat","dog"]"#)])
                .assertError(.badRequest, "bad_image")
        }
    }
}
