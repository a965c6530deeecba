import XCTest
@testable import KestrelGrounding

final class NonMaximumSuppressionTests: XCTestCase {
    func box(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double) -> PixelBox { PixelBox(x0: x0, y0: y0, x1: x1, y1: y1) }

    func testIoU() {
        XCTAssertEqual(box(0, 0, 10, 10).iou(box(0, 0, 10, 10)), 1, accuracy: 1e-12)
        XCTAssertEqual(box(0, 0, 10, 10).iou(box(5, 0, 15, 10)), 50.0 / 150.0, accuracy: 1e-12)
        XCTAssertEqual(box(0, 0, 10, 10).iou(box(20, 20, 30, 30)), 0)
        XCTAssertEqual(box(0, 0, 0, 0).iou(box(0, 0, 0, 0)), 0)
    }

    func testOverlappingLowerScoreIsDroppedPerQueryOnly() {
        let d = [Detection(query: 0, box: box(0, 0, 10, 10), score: 0.5),
                 Detection(query: 0, box: box(1, 0, 11, 10), score: 0.9),
                 Detection(query: 1, box: box(1, 0, 11, 10), score: 0.4),
                 Detection(query: 0, box: box(50, 50, 60, 60), score: 0.3)]
        let kept = nonMaximumSuppression(d, iou: 0.3, maxPerQuery: 10)
        XCTAssertEqual(kept.map(\.score), [0.9, 0.4, 0.3])
        XCTAssertEqual(nonMaximumSuppression(d, iou: 0.3, maxPerQuery: 1).map(\.score), [0.9, 0.4])
        XCTAssertEqual(nonMaximumSuppression(d, iou: 1, maxPerQuery: 10).count, 4)
    }
}
