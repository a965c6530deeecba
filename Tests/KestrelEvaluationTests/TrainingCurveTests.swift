import KestrelEvaluation
import XCTest

final class TrainingCurveTests: XCTestCase {
    func testReadsTrainLogLinesAndNamesABadOne() throws {
        let log = """
            {"step":10,"loss":3.5,"lr":0.0001,"logit_scale":14.2}
            {"step":20,"loss":2.25,"lr":0.0002}

            """
        let points = try TrainingLogPoint.read(Array(log.utf8), name: "train.jsonl")
        XCTAssertEqual(points, [TrainingLogPoint(step: 10, loss: 3.5, learningRate: 0.0001),
                                TrainingLogPoint(step: 20, loss: 2.25, learningRate: 0.0002)])
        XCTAssertThrowsError(try TrainingLogPoint.read(Array((log + "{\"step\":30}\n").utf8), name: "train.jsonl")) { error in
            XCTAssertTrue("\(error)".contains("train.jsonl line 3"), "\(error)")
        }
    }

    /// The loss line is drawn where the values say: high on the left, low on the right.
    func testCurveDrawsTheLossFromHighToLow() throws {
        let points = (0...10).map { TrainingLogPoint(step: $0 * 10, loss: 4 - Double($0) * 0.3, learningRate: 1e-4) }
        let canvas = Plots.trainingCurve(points)
        func bluePixels(inColumns xs: Range<Int>) -> [Int] {
            var ys: [Int] = []
            for x in xs { for y in 0..<canvas.height where canvas.pixel(x: x, y: y) == .blue { ys.append(y) } }
            return ys
        }
        let leftYs = bluePixels(inColumns: 66..<80), rightYs = bluePixels(inColumns: 600..<620)
        XCTAssertFalse(leftYs.isEmpty); XCTAssertFalse(rightYs.isEmpty)
        XCTAssertLessThan(leftYs.min()!, rightYs.min()!, "a falling loss is drawn higher on the left")
        XCTAssertEqual(Array(try canvas.png().prefix(4)), [137, 80, 78, 71])
    }
}
