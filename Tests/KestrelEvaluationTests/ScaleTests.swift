import Foundation
import KestrelEngine
import KestrelEvaluation
import XCTest

/// The harness at the acceptance runs' size: 10,000 images x 10 classes and 1,000 resamples, and
/// retrieval over 2,000 images x 4,000 captions, each well inside a test's time.
final class ScaleTests: XCTestCase {
    func testTenThousandImagesTenClasses() throws {
        var rng = SystemRandomNumberGenerator()
        let n = 10_000, c = 10
        let truth = (0..<n).map { $0 % c }
        var probs = [Float](repeating: 0, count: n * c)
        for i in 0..<n {
            var row = (0..<c).map { _ in Float.random(in: 0...1, using: &rng) }
            row[truth[i]] += 0.4   // often right, not always
            let s = row.reduce(0, +)
            for j in 0..<c { probs[i * c + j] = row[j] / s }
        }
        let t0 = Date()
        let m = try ZeroShotMetrics.compute(try ClassPredictions(classCount: c, truth: truth, probabilities: probs), settings: BootstrapSettings())
        let seconds = Date().timeIntervalSince(t0)
        print("zero-shot metrics, 10,000 x 10, 1,000 resamples: \(String(format: "%.2f", seconds)) s; top-1 \(m.top1)")
        XCTAssertLessThan(m.top1.high - m.top1.low, 0.03, "n = 10,000: a narrow interval")
        XCTAssertGreaterThan(m.top1.high - m.top1.low, 0.005, "but not an empty one: \(m.top1)")
        XCTAssertTrue(m.top1.value > 0.2 && m.top1.value < 0.9, "\(m.top1)")
        XCTAssertLessThan(seconds, 60)
    }

    func testRetrievalTwoThousandImages() throws {
        var rng = SystemRandomNumberGenerator()
        let i = 2000, e = 64
        var images = Tensor(shape: [i, e], data: (0..<(i * e)).map { _ in Float.random(in: -1...1, using: &rng) })
        var captions = Tensor(shape: [2 * i, e], data: (0..<(2 * i * e)).map { k in images.data[(k / e / 2) * e + k % e] + Float.random(in: -2...2, using: &rng) })
        l2Normalize(&images); l2Normalize(&captions)
        let t0 = Date()
        let r = try RetrievalEvaluation.compute(images: images, captions: captions, captionImage: (0..<(2 * i)).map { $0 / 2 }, settings: BootstrapSettings())
        let seconds = Date().timeIntervalSince(t0)
        print("retrieval, 2,000 images x 4,000 captions: \(String(format: "%.2f", seconds)) s; t2i R@1 \(r.textToImage[0].recall)")
        XCTAssertGreaterThan(r.textToImage[0].recall.value, 20 * r.textToImage[0].chance, "captions near their image are found: \(r.textToImage[0].recall)")
        XCTAssertLessThan(r.textToImage[0].recall.value, 1, "but not all")
        XCTAssertLessThan(seconds, 60)
    }
}
