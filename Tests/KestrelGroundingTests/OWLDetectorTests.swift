import Foundation
import KestrelGrounding
import KestrelImage
import KestrelKernels
import KestrelModels
import KestrelTestSupport
import XCTest

/// OWLDetector end to end in the library: decoding, preprocessing as transformers' default image
/// processors (pixels), the tokenizer, and post-processing as `post_process_object_detection`.
final class OWLDetectorTests: XCTestCase {
    static let root = Fixtures.url("models")

    func decode(_ path: String) throws -> DecodedImage {
        try ImageDecoder().decode(contentsOf: Self.root.appendingPathComponent(path))
    }

    /// Pixels as the processor gives them: OWL-ViT (uint8 antialiased bicubic) bit for bit up to float
    /// rounding; OWLv2 (pad, blur, bilinear in float) within 1e-5.
    func testPreprocessingMatchesTheImageProcessors() throws {
        for name in ["owlvit-tiny", "owlv2-tiny"] {
            let ref = try OWLReference.load(Self.root, name)
            let detector = try OWLDetector(directory: Self.root.appendingPathComponent(name))
            for (file, pixels, w, h) in ref.images.map({ ($0.file, $0.pixels, $0.width, $0.height) })
                + [(ref.query_image.file, ref.query_image.pixels, ref.query_image.width, ref.query_image.height)] {
                let input = try detector.preprocess(try decode(file))
                XCTAssertEqual([input.width, input.height], [w, h])
                let d = maxAbsDifference(input.pixels, try OWLReference.floats(Self.root, pixels))
                XCTAssertLessThanOrEqual(d, 1e-5, "\(name) \(file)")
                print("\(name) \(file): max |pixel diff| \(d)")
            }
        }
    }

    /// Text ids from Kestrel's tokenizer are the processor's.
    func testTokenIDsMatchTheProcessor() throws {
        let ref = try OWLReference.load(Self.root, "owlvit-tiny")
        let detector = try OWLDetector(directory: Self.root.appendingPathComponent("owlvit-tiny"))
        XCTAssertEqual(try ref.texts.map(detector.tokenIDs), ref.unpaddedIDs)
        XCTAssertThrowsError(try detector.tokenIDs(String(repeating: "umbrella ", count: 20))) { e in
            XCTAssertTrue("\(e)".contains("at most 16"), "\(e)")
        }
    }

    /// From decoded files: raw logits and boxes, the image query, and the post-processed boxes in
    /// original pixels (within 0.5 px, the same set) against transformers.
    func testDetectionsMatchPostProcessing() throws {
        for name in ["owlvit-tiny", "owlv2-tiny"] {
            let ref = try OWLReference.load(Self.root, name)
            let detector = try OWLDetector(directory: Self.root.appendingPathComponent(name))
            let queryImage = try decode(ref.query_image.file)
            for image in ref.images {
                let picture = try decode(image.file)
                let raw = try detector.raw(picture, queries: ref.texts.map { .text($0) })
                XCTAssertLessThanOrEqual(maxAbsDifference(raw.logits.data, image.logits), 1e-4, "\(name) \(image.file)")
                XCTAssertLessThanOrEqual(maxAbsDifference(raw.boxes.data, image.pred_boxes), 1e-4, "\(name) \(image.file)")
                compare(OWLDetector.detections(raw, threshold: image.threshold), image.detections, "\(name) \(image.file) text")
                print("\(name) \(image.file) from the file: max |logit diff| \(maxAbsDifference(raw.logits.data, image.logits)), "
                      + "max |box diff| \(maxAbsDifference(raw.boxes.data, image.pred_boxes))")

                let guided = try detector.raw(picture, queries: [.image(queryImage, name: "query")])
                XCTAssertEqual(guided.queryPatches, [image.guided.query_index])
                XCTAssertLessThanOrEqual(maxAbsDifference(guided.logits.data, image.guided.logits), 1e-4, "\(name) guided")
                compare(OWLDetector.detections(guided, threshold: image.guided.threshold), image.guided.detections, "\(name) \(image.file) image query")

                // Through the Grounder call with NMS off: the same boxes, best first.
                let result = try detector.ground(picture, queries: ref.texts.map { .text($0) },
                                                 options: GroundingOptions(threshold: image.threshold, nmsIoU: 1, maxPerQuery: 1000, heatmaps: true))
                compare(result.detections, image.detections, "\(name) ground")
                XCTAssertEqual(result.detections.map(\.score), result.detections.map(\.score).sorted(by: >))
                XCTAssertEqual(result.heatmaps.count, ref.texts.count)
                let g = ref.image_size / ref.patch_size
                XCTAssertEqual(result.heatmaps.first?.values.count, g * g)
                let side = name == "owlv2-tiny" ? Double(max(image.width, image.height)) : nil
                XCTAssertEqual(result.heatmaps.first?.region,
                               PixelBox(x0: 0, y0: 0, x1: side ?? Double(image.width), y1: side ?? Double(image.height)))
            }
        }
        print("post-processed boxes from the files: max |diff| \(worstPixels) px")
    }

    var worstPixels = 0.0

    func compare(_ got: [Detection], _ want: [OWLReference.Detection], _ what: String) {
        XCTAssertEqual(got.count, want.count, what)
        let wanted = want.sorted { $0.score > $1.score }
        for (g, w) in zip(got.sorted { $0.score > $1.score }, wanted) {
            XCTAssertEqual(g.query, w.label, what)
            XCTAssertEqual(g.score, w.score, accuracy: 1e-4, what)
            let d = zip(g.box.array, w.box).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(d, 0.5, what)
            worstPixels = max(worstPixels, d)
        }
    }

    /// A repeated text costs only the image side: its embedding comes from the cache.
    func testRepeatedTextsHitTheCache() throws {
        let detector = try OWLDetector(directory: Self.root.appendingPathComponent("owlv2-tiny"))
        let picture = try decode("owl-images/owl_0_200x130.jpg")
        let a = try detector.raw(picture, queries: [.text("red umbrella"), .text("dog")])
        XCTAssertEqual(detector.textCacheStatistics.hits, 0)
        let b = try detector.raw(picture, queries: [.text("dog"), .text("red umbrella")])
        XCTAssertEqual(detector.textCacheStatistics.hits, 2)
        for p in 0..<a.boxes.rows {
            XCTAssertEqual(a.logits.data[p * 2], b.logits.data[p * 2 + 1])
            XCTAssertEqual(a.logits.data[p * 2 + 1], b.logits.data[p * 2])
        }
    }

    func testGrounderLoaderOpensOWLFolders() throws {
        XCTAssertEqual(try GrounderLoader.load(Self.root.appendingPathComponent("owlvit-tiny")).kind, "owlvit")
        XCTAssertEqual(try GrounderLoader.load(Self.root.appendingPathComponent("owlv2-tiny")).kind, "owlv2")
        XCTAssertThrowsError(try GrounderLoader.load(Self.root.appendingPathComponent("owlvit-tiny"), dense: DenseGroundingSettings())) {
            XCTAssertTrue("\($0)".contains("CLIP models only"), "\($0)")
        }
    }

    /// The loader reads config.json's model_type through the model-file checks: a FIFO there is
    /// an error at once (reading it would block forever), never a hang.
    func testAConfigThatIsAFIFOIsRefusedWithoutReading() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grounder-fifo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertEqual(mkfifo(dir.appendingPathComponent("config.json").path, 0o644), 0)
        XCTAssertThrowsError(try GrounderLoader.detectorType(dir)) { XCTAssertTrue("\($0)".contains("FIFO"), "\($0)") }
        XCTAssertThrowsError(try GrounderLoader.load(dir)) { XCTAssertTrue("\($0)".contains("config.json"), "\($0)") }
    }
}
