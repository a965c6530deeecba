import Foundation
import KestrelGrounding
import KestrelImage
import KestrelKernels
import KestrelModels
import KestrelTestSupport
import XCTest

/// Parity at the published shapes: OWL-ViT B/32 (768 px) and OWLv2 B/16 (960 px), random weights
/// (transformers' default init). Too big to commit: generate them with
///   ~/refenv/bin/python Notebooks/fixtures/owl_fixtures.py --full /work/owl-full
/// and run `KESTREL_OWL_FULL=/work/owl-full swift test --filter OWLFullShapeParityTests`.
/// Without the variable the test is skipped. Prints the figures docs/grounding-owl.md quotes.
final class OWLFullShapeParityTests: XCTestCase {
    func testFullShapesMatchTransformers() throws {
        guard let path = ProcessInfo.processInfo.environment["KESTREL_OWL_FULL"] else {
            throw XCTSkip("set KESTREL_OWL_FULL to a folder made by owl_fixtures.py --full")
        }
        let root = URL(fileURLWithPath: path)
        for name in ["owlvit-b32", "owlv2-b16"] {
            let ref = try OWLReference.load(root, name)
            let detector = try OWLDetector(directory: root.appendingPathComponent(name))
            let s = ref.image_size
            XCTAssertGreaterThan(detector.model.parameterCount, 150_000_000)
            let queryImage = try ImageDecoder().decode(contentsOf: root.appendingPathComponent(ref.query_image.file))
            var worst = (pixels: Float(0), logits: Float(0), boxes: Float(0), guided: Float(0), endToEndLogits: Float(0), px: 0.0)
            for image in ref.images {
                // The model on the processor's own pixels.
                let refPixels = try OWLReference.floats(root, image.pixels)
                let input = OWLInput(pixels: refPixels, width: image.width, height: image.height,
                                     scaleX: Double(name == "owlv2-b16" ? max(image.width, image.height) : image.width),
                                     scaleY: Double(name == "owlv2-b16" ? max(image.width, image.height) : image.height))
                let raw = try detector.raw(input, queries: ref.texts.map { .text($0) })
                let dl = maxAbsDifference(raw.logits.data, image.logits), db = maxAbsDifference(raw.boxes.data, image.pred_boxes)
                XCTAssertLessThanOrEqual(dl, 1e-4, "\(name) \(image.file) logits")
                XCTAssertLessThanOrEqual(db, 1e-4, "\(name) \(image.file) boxes")
                if let o = image.objectness_logits { XCTAssertLessThanOrEqual(maxAbsDifference(try XCTUnwrap(raw.objectness), o), 1e-4) }
                let guided = try detector.raw(input, queries: [.image(queryImage, name: "query")])
                XCTAssertEqual(guided.queryPatches, [image.guided.query_index], "\(name) query box")
                let dg = maxAbsDifference(guided.logits.data, image.guided.logits)
                XCTAssertLessThanOrEqual(dg, 1e-4, "\(name) \(image.file) image-guided logits")
                // End to end from the file: pixels, logits, post-processed boxes in original pixels.
                let picture = try ImageDecoder().decode(contentsOf: root.appendingPathComponent(image.file))
                let mine = try detector.preprocess(picture)
                let dp = maxAbsDifference(mine.pixels, refPixels)
                let e2e = try detector.raw(picture, queries: ref.texts.map { .text($0) })
                let de = maxAbsDifference(e2e.logits.data, image.logits)
                XCTAssertLessThanOrEqual(de, 1e-4, "\(name) \(image.file) logits from the file")
                let found = OWLDetector.detections(e2e, threshold: image.threshold).sorted { $0.score > $1.score }
                let want = image.detections.sorted { $0.score > $1.score }
                XCTAssertEqual(found.count, want.count, "\(name) \(image.file) boxes kept")
                var dpx = 0.0
                for (g, w) in zip(found, want) {
                    XCTAssertEqual(g.query, w.label)
                    dpx = max(dpx, zip(g.box.array, w.box).map { abs($0 - $1) }.max()!)
                }
                XCTAssertLessThanOrEqual(dpx, 0.5, "\(name) \(image.file) boxes in pixels")
                worst = (max(worst.pixels, dp), max(worst.logits, dl), max(worst.boxes, db), max(worst.guided, dg),
                         max(worst.endToEndLogits, de), max(worst.px, dpx))
            }
            print("\(name): \(detector.model.parameterCount) parameters, \(s) px; max |pixel diff| \(worst.pixels), "
                  + "max |logit diff| \(worst.logits) (text), \(worst.guided) (image query), \(worst.endToEndLogits) (from the file); "
                  + "max |box diff| \(worst.boxes) (normalised); post-processed boxes max |diff| \(worst.px) px")
        }
    }
}
