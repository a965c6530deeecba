import Foundation
import KestrelKernels
import KestrelModels
import KestrelTestSupport
import XCTest

/// Parity at the full ViT-B/32 shape (151M parameters, random weights). The checkpoints are too big
/// to commit: generate them with
///   ~/refenv/bin/python Notebooks/fixtures/model_fixtures.py --full-vitb32 /tmp/kestrel-vitb32
/// and run `KESTREL_VITB32_DIR=/tmp/kestrel-vitb32 swift test --filter FullShapeParityTests`.
/// Without the variable the test is skipped.
final class FullShapeParityTests: XCTestCase {
    func testFullViTB32MatchesReferences() throws {
        guard let root = ProcessInfo.processInfo.environment["KESTREL_VITB32_DIR"] else {
            throw XCTSkip("set KESTREL_VITB32_DIR to a folder made by model_fixtures.py --full-vitb32")
        }
        for name in ["hf-vitb32", "openclip-vitb32"] {
            let base = URL(fileURLWithPath: root)
            let model = try CLIPModel(directory: base.appendingPathComponent(name))
            let ref = try ModelReference.load(base.appendingPathComponent("\(name).reference.json"))
            XCTAssertGreaterThan(model.parameterCount, 150_000_000)
            var worst = (cos: 1.0, diff: Float(0))
            func check(_ got: [Float], _ want: [Float], _ what: String) {
                var n = Tensor(shape: [1, got.count], data: got)
                l2Normalize(&n)
                let c = cosine(n.data, want), d = maxAbsDifference(n.data, want)
                worst = (min(worst.cos, c), max(worst.diff, d))
                XCTAssertGreaterThanOrEqual(c, 0.99999, "\(name) \(what)")
                XCTAssertLessThanOrEqual(d, 1e-4, "\(name) \(what)")
            }
            for t in ref.texts { check(try model.encodeText([t.ids]).data, t.normalized, "text \"\(t.text.prefix(30))\"") }
            for image in ref.images {
                let s = model.config.imageSize
                check(try model.encodeImages(Tensor(shape: [1, 3, s, s], data: try ref.pixels(image))).data, image.normalized, image.file)
            }
            print("\(name): \(model.parameterCount) parameters, worst cosine \(worst.cos), worst max |diff| \(worst.diff)")
        }
    }
}
