import Foundation
import KestrelKernels
import KestrelModels
import KestrelTestSupport
import XCTest

/// Parity with the reference implementations on tiny random-weight checkpoints
/// (fixtures from Notebooks/fixtures/model_fixtures.py, fixed seeds): the token ids and pixels the
/// references fed in, through our towers, against the references' projected embeddings.
final class ParityTests: XCTestCase {
    static let cases = [("hf-tiny", CheckpointLayout.huggingFace), ("openclip-tiny", .openCLIP)]

    func testTextEmbeddingsMatchReference() throws {
        for (name, layout) in Self.cases {
            let model = try CLIPModel(directory: Fixtures.url("models/\(name)"))
            XCTAssertEqual(model.layout, layout)
            let ref = try ModelReference.load(Fixtures.url("models/\(name).reference.json"))
            XCTAssertEqual(model.logitScale, ref.logit_scale, accuracy: 1e-6)
            // One batch holding every text (different lengths), then each alone: both must agree.
            let batch = try model.encodeText(ref.texts.map(\.ids))
            for (i, t) in ref.texts.enumerated() {
                let alone = try model.encodeText([t.ids]).data
                let fromBatch = Array(batch.data[(i * alone.count)..<((i + 1) * alone.count)])
                for got in [alone, fromBatch] {
                    var n = Tensor(shape: [1, got.count], data: got)
                    l2Normalize(&n)
                    XCTAssertGreaterThanOrEqual(cosine(n.data, t.normalized), 0.99999, "\(name) text \"\(t.text)\"")
                    XCTAssertLessThanOrEqual(maxAbsDifference(n.data, t.normalized), 1e-4, "\(name) text \"\(t.text)\"")
                    XCTAssertLessThanOrEqual(maxAbsDifference(got, t.raw), 1e-4 * max(1, t.raw.map(abs).max()!), "\(name) raw \"\(t.text)\"")
                }
            }
        }
    }

    func testImageEmbeddingsMatchReference() throws {
        for (name, _) in Self.cases {
            let model = try CLIPModel(directory: Fixtures.url("models/\(name)"))
            let ref = try ModelReference.load(Fixtures.url("models/\(name).reference.json"))
            let s = model.config.imageSize
            let pixels = try ref.images.flatMap { try ref.pixels($0) }
            let out = try model.encodeImages(Tensor(shape: [ref.images.count, 3, s, s], data: pixels))
            let e = out.lastDim
            for (i, image) in ref.images.enumerated() {
                let got = Array(out.data[(i * e)..<((i + 1) * e)])
                var n = Tensor(shape: [1, e], data: got)
                l2Normalize(&n)
                XCTAssertGreaterThanOrEqual(cosine(n.data, image.normalized), 0.99999, "\(name) \(image.file)")
                XCTAssertLessThanOrEqual(maxAbsDifference(n.data, image.normalized), 1e-4, "\(name) \(image.file)")
                XCTAssertLessThanOrEqual(maxAbsDifference(got, image.raw), 1e-4 * max(1, image.raw.map(abs).max()!), "\(name) raw \(image.file)")
            }
        }
    }

    func testTokensAfterTheEndTokenChangeNothing() throws {
        let model = try CLIPModel(directory: Fixtures.url("models/openclip-tiny"))
        let ids = [49406, 320, 1125, 539, 320, 2368, 49407]
        let short = try model.encodeText([ids]).data
        let padded = try model.encodeText([ids + [0, 0, 0]]).data
        let garbage = try model.encodeText([ids + [500, 77, 49407, 12]]).data
        XCTAssertEqual(short, padded)
        XCTAssertEqual(short, garbage)
    }

    func testBadTokenIDsAreErrors() throws {
        let model = try CLIPModel(directory: Fixtures.url("models/hf-tiny"))
        XCTAssertThrowsError(try model.encodeText([[1512, 99_999, 1513]])) { XCTAssertTrue("\($0)".contains("99999"), "\($0)") }
        XCTAssertThrowsError(try model.encodeText([[Int](repeating: 5, count: 78)])) { XCTAssertTrue("\($0)".contains("78"), "\($0)") }
        XCTAssertThrowsError(try model.encodeText([[]]))
    }
}
