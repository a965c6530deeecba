import Foundation
import KestrelKernels
@testable import KestrelModels
import KestrelTestSupport
import XCTest

/// An embedding must not depend on what shares its batch: `index add` embeds images 16 at a time,
/// `search --image` one at a time, and the same picture must score 1 against itself. At int8 the
/// activations are quantised with one scale per product, so the towers run each item alone.
final class BatchIndependenceTests: XCTestCase {
    func testInt8EmbeddingsDoNotDependOnTheBatch() throws {
        for name in FusedForwardTests.models {
            let model = try CLIPModel(directory: Fixtures.url("models/\(name)"), precision: .int8)
            guard model.precision == .int8 else { throw XCTSkip("int8 does not run here: \(model.precisionNote ?? "")") }
            let s = model.config.imageSize
            let a = FusedForwardTests.pixels(1, s, seed: 1)
            // A batch-mate with a much wider range of values than `a`.
            var b = FusedForwardTests.pixels(1, s, seed: 2)
            b.data = b.data.map { $0 * 40 }
            let alone = try model.encodeImages(a)
            let together = try model.encodeImages(Tensor(shape: [2, 3, s, s], data: a.data + b.data))
            XCTAssertEqual(Array(together.data[0..<alone.count]), alone.data, "\(name): image 0 alone vs beside another")

            let ref = try ModelReference.load(Fixtures.url("models/\(name).reference.json"))
            let ids = ref.texts.map(\.ids).sorted { $0.count < $1.count }
            let short = try XCTUnwrap(ids.first), long = try XCTUnwrap(ids.last)
            let textAlone = try model.encodeText([short])
            let textTogether = try model.encodeText([short, long])
            XCTAssertEqual(Array(textTogether.data[0..<textAlone.count]), textAlone.data, "\(name): text alone vs beside a longer one")
        }
    }
}
