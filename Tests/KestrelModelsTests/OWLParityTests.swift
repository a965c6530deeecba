import Foundation
import KestrelKernels
import KestrelModels
import KestrelTestSupport
import XCTest

/// OWL-ViT / OWLv2 towers and heads against transformers' `OwlViTForObjectDetection` /
/// `Owlv2ForObjectDetection` on the same pixels (committed tiny random-weight checkpoints):
/// logits max |diff| <= 1e-4, boxes <= 1e-4 (normalised), OWLv2 objectness <= 1e-4, and the
/// image-guided query (the query picture's chosen patch, the logits and boxes it gives).
final class OWLParityTests: XCTestCase {
    static let root = Fixtures.url("models")

    /// Checks one model folder against its reference; returns the worst (logit, box) differences.
    @discardableResult
    static func check(root: URL, model name: String, tolerance: Float = 1e-4) throws -> (logits: Float, boxes: Float) {
        let ref = try OWLReference.load(root, name)
        let model = try OWLModel(directory: root.appendingPathComponent(name))
        XCTAssertEqual(model.kind.rawValue, ref.kind)
        XCTAssertEqual(model.unusedTensors, [], "every checkpoint tensor is read")
        let s = ref.image_size
        let queries = try model.textEmbeddings(ref.unpaddedIDs)
        let queryPixels = try OWLReference.floats(root, ref.query_image.pixels)
        let qf = try model.imageFeatures(Tensor(shape: [1, 3, s, s], data: queryPixels))
        let imageQuery = try XCTUnwrap(model.imageQuery(qf, image: 0))
        var worst: (logits: Float, boxes: Float) = (0, 0)
        for image in ref.images {
            let f = try model.imageFeatures(Tensor(shape: [1, 3, s, s], data: try OWLReference.floats(root, image.pixels)))
            let logits = try model.logits(f, image: 0, queries: queries)
            let dl = maxAbsDifference(logits.data, image.logits), db = maxAbsDifference(f.boxes(of: 0), image.pred_boxes)
            XCTAssertLessThanOrEqual(dl, tolerance, "\(name) \(image.file) text logits")
            XCTAssertLessThanOrEqual(db, tolerance, "\(name) \(image.file) boxes")
            if let objectness = image.objectness_logits {
                XCTAssertLessThanOrEqual(maxAbsDifference(try XCTUnwrap(f.objectness), objectness), tolerance, "\(name) objectness")
            } else {
                XCTAssertNil(f.objectness)
            }
            XCTAssertEqual(imageQuery.patch, image.guided.query_index, "\(name): the query picture's chosen box")
            let guided = try model.logits(f, image: 0, queries: Tensor(shape: [1, imageQuery.embedding.count], data: imageQuery.embedding))
            let dg = maxAbsDifference(guided.data, image.guided.logits)
            XCTAssertLessThanOrEqual(dg, tolerance, "\(name) \(image.file) image-guided logits")
            XCTAssertLessThanOrEqual(maxAbsDifference(f.boxes(of: 0), image.guided.pred_boxes), tolerance, "\(name) image-guided boxes")
            worst = (max(worst.logits, dl, dg), max(worst.boxes, db))
        }
        print("\(name): max |logit diff| \(worst.logits), max |box diff| \(worst.boxes)")
        return worst
    }

    func testOWLViTMatchesTransformers() throws { try Self.check(root: Self.root, model: "owlvit-tiny") }
    func testOWLv2MatchesTransformers() throws { try Self.check(root: Self.root, model: "owlv2-tiny") }

    /// A padded query slot (transformers' query_mask, input_ids[0] == 0) gets float32's lowest logit.
    func testMaskedQueryGetsTheLowestLogit() throws {
        let ref = try OWLReference.load(Self.root, "owlv2-tiny")
        let model = try OWLModel(directory: Self.root.appendingPathComponent("owlv2-tiny"))
        let s = ref.image_size
        let f = try model.imageFeatures(Tensor(shape: [1, 3, s, s], data: try OWLReference.floats(Self.root, ref.images[0].pixels)))
        let logits = try model.logits(f, image: 0, queries: try model.textEmbeddings(ref.unpaddedIDs), mask: [true, false, true])
        for p in 0..<f.patches {
            XCTAssertEqual(logits.data[p * 3 + 1], -Float.greatestFiniteMagnitude)
            XCTAssertEqual(logits.data[p * 3], ref.images[0].logits[p * 3], accuracy: 1e-4)
        }
    }

    /// The box bias is the inverse sigmoid of each patch's corner and size (transformers' compute_box_bias).
    func testBoxBiasFollowsTheGrid() {
        let g = 4, bias = owlBoxBias(grid: g)
        XCTAssertEqual(bias.count, g * g * 4)
        // Patch (y 1, x 2): corner (3/4, 2/4), size 1/4.
        let i = (1 * g + 2) * 4
        XCTAssertEqual(owlSigmoid(bias[i]), 0.75, accuracy: 1e-3)
        XCTAssertEqual(owlSigmoid(bias[i + 1]), 0.5, accuracy: 1e-3)
        XCTAssertEqual(owlSigmoid(bias[i + 2]), 0.25, accuracy: 1e-3)
    }
}
