import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
@testable import KestrelServer
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

    /// Labels are bounded by batch_size (its real value), labels x templates by label_prompts
    /// (shown in /v1/info); a repeated request reuses the cached classifier (no text-tower work).
    func testLabelLimitsAndTheClassifierCache() async throws {
        var configuration = ServerConfiguration()
        configuration.limits.maxBatch = 3
        let service = try Kit.service(configuration)
        let png = try Kit.sample("circles/red_circle.png")
        try await Kit.withClient(service) { client in
            let four = try await Kit.upload(client, "/v1/label", image: png, fields: [("labels", #"["a","b","c","d"]"#)])
            four.assertError(.badRequest, "limit_exceeded", limit: "batch_size")
            XCTAssertEqual(((four.json()["error"] as? [String: Any])?["limit"] as? [String: Any])?["value"] as? Int, 3)
            let prompts = service.configuration.limits.maxLabelPrompts
            XCTAssertEqual(prompts, 3 * PromptTemplates.defaultEnsemble.count)
            let info = try await Kit.send(client, .get, "/v1/info")
            XCTAssertEqual((info.json()["limits"] as? [String: Any])?["label_prompts"] as? Int, prompts)
            XCTAssertEqual((info.json()["limits"] as? [String: Any])?["batch_size"] as? Int, 3)
            XCTAssertEqual(service.classifiers.withLock { $0.count }, 0)
            let fields = [("labels", #"["circle","square"]"#), ("templates", #"["a photo of a {}.","a drawing of a {}."]"#)]
            let first = try await Kit.upload(client, "/v1/label", image: png, fields: fields)
            XCTAssertEqual(first.status, .ok, first.text)
            XCTAssertEqual(service.classifiers.withLock { $0.count }, 1)
            let again = try await Kit.upload(client, "/v1/label", image: png, fields: fields)
            XCTAssertEqual(again.text, first.text)
            XCTAssertEqual(service.classifiers.withLock { $0.count }, 1)
        }
        // labels x templates past label_prompts: batch_size 9, so label_prompts is 9 x 8 = 72 < 9 x 9.
        var wide = ServerConfiguration()
        wide.limits.maxBatch = 9
        let nine = try Kit.service(wide)
        XCTAssertEqual(nine.configuration.limits.maxLabelPrompts, 9 * PromptTemplates.defaultEnsemble.count)
        XCTAssertLessThan(nine.configuration.limits.maxLabelPrompts, 81)
        try await Kit.withClient(nine) { client in
            let labels = "[" + (1...9).map { "\"class \($0)\"" }.joined(separator: ",") + "]"
            let templates = "[" + (1...9).map { "\"picture \($0) of a {}\"" }.joined(separator: ",") + "]"
            try await Kit.upload(client, "/v1/label", image: png, fields: [("labels", labels), ("templates", templates)])
                .assertError(.badRequest, "limit_exceeded", limit: "label_prompts")
        }
    }
}
