import Foundation
import KestrelTestSupport
import XCTest

/// `kestrel ground` with OWL-ViT / OWLv2 folders, run as a user runs it, against transformers'
/// `post_process_object_detection` (the committed tiny fixtures of Notebooks/fixtures/owl_fixtures.py):
/// on a JPEG and a PNG, the same boxes in original pixels within 0.5 px, the same queries and scores.
final class GroundOWLCommandTests: XCTestCase {
    static func reference(_ name: String) throws -> OWLReference {
        try OWLReference.load(Fixtures.url("models"), name)
    }

    /// Runs the command (NMS off, no box limit) and compares its JSON lines with the reference.
    func check(_ name: String, image: String, queries: [String], labels: [String], threshold: Float,
               want: [OWLReference.Detection]) throws {
        let args = ["ground", "--model", "Tests/Fixtures/models/\(name)", "Tests/Fixtures/models/\(image)", "--json",
                    "--threshold", "\(threshold)", "--nms", "1", "--max-boxes", "1000"] + queries
        let r = try Kestrel.run(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try r.jsonLines()
        XCTAssertEqual(rows.count, want.count, "\(name) \(image)")
        let wanted = want.sorted { $0.score > $1.score }
        var worst = 0.0
        for (row, w) in zip(rows, wanted) {
            XCTAssertEqual(row["image"] as? String, "Tests/Fixtures/models/\(image)")
            XCTAssertEqual(row["query"] as? String, labels[w.label], "\(name) \(image)")
            XCTAssertEqual((row["score"] as? NSNumber)?.floatValue ?? -1, w.score, accuracy: 1e-4)
            let box = (row["box"] as? [NSNumber] ?? []).map(\.doubleValue)
            XCTAssertEqual(box.count, 4)
            let d = zip(box, w.box).map { abs($0 - $1) }.max() ?? .infinity
            worst = max(worst, d)
            XCTAssertLessThanOrEqual(d, 0.5, "\(name) \(image): \(box) vs \(w.box)")
        }
        print("kestrel ground \(name) \(image): \(rows.count) boxes, max |box diff| \(worst) px")
    }

    func testTextQueriesMatchTransformersOnJPEGAndPNG() throws {
        for name in ["owlvit-tiny", "owlv2-tiny"] {
            let ref = try Self.reference(name)
            for image in ref.images {
                try check(name, image: image.file, queries: ref.texts.flatMap { ["--text", $0] }, labels: ref.texts,
                          threshold: image.threshold, want: image.detections)
            }
        }
    }

    func testImageQueryMatchesImageGuidedDetection() throws {
        for name in ["owlvit-tiny", "owlv2-tiny"] {
            let ref = try Self.reference(name)
            let query = "Tests/Fixtures/models/\(ref.query_image.file)"
            for image in ref.images {
                try check(name, image: image.file, queries: ["--image-query", query], labels: [query],
                          threshold: image.guided.threshold, want: image.guided.detections)
            }
        }
    }

    func testBadPreprocessorConfigIsNamed() throws {
        let dir = Fixtures.temporaryDirectory("owl-cli").appendingPathComponent("owlv2-tiny")
        try FileManager.default.copyItem(at: Fixtures.url("models/owlv2-tiny"), to: dir)
        try Data(#"{"size": {"height": 64, "width": 64}, "do_pad": true}"#.utf8)
            .write(to: dir.appendingPathComponent("preprocessor_config.json"))
        let r = try Kestrel.run(["ground", "--model", dir.path, "Tests/Fixtures/models/owl-images/owl_0_200x130.jpg", "--text", "dog"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("preprocessor_config.json") && r.stderr.contains("size"), r.stderr)
    }

    /// A text the model can never take is one usage error before any image, with the text cut short.
    func testTooLongTextIsOneUsageError() throws {
        let image = "Tests/Fixtures/models/owl-images/owl_1_120x170.png"
        let long = String(repeating: "red umbrella ", count: 500)
        let r = try Kestrel.run(["ground", "--model", "Tests/Fixtures/models/owlvit-tiny", image, image, "--text", long])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("--text") && r.stderr.contains("at most 16"), r.stderr)
        XCTAssertEqual(r.stderr.components(separatedBy: "at most 16").count, 2, "said once: \(r.stderr)")
        XCTAssertLessThan(r.stderr.utf8.count, 1_000, r.stderr)
        XCTAssertTrue(r.stdout.isEmpty)
    }

    /// Dense-map settings on a detector folder are a usage error naming the flag and the folder, never ignored.
    func testDenseSettingsOnADetectorAreRefused() throws {
        for flag in [["--dense-method", "naclip"], ["--fit", "pad"], ["--refine"]] {
            let r = try Kestrel.run(["ground", "--model", "Tests/Fixtures/models/owlvit-tiny", "Tests/Fixtures/models/owl-images/owl_1_120x170.png",
                                     "--text", "dog"] + flag)
            XCTAssertEqual(r.status, 64, "\(flag): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("owlvit-tiny") && r.stderr.contains(flag[0]) && r.stderr.contains("applies to CLIP models"), r.stderr)
            XCTAssertTrue(r.stdout.isEmpty)
        }
    }
}
