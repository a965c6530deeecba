import KestrelEvaluation
import KestrelTraining
import XCTest

final class TrainingCurveTests: XCTestCase {
    func testReadsTrainLogLinesAndNamesABadOne() throws {
        let log = """
            {"step":10,"loss":3.5,"lr":0.0001,"logit_scale":14.2}
            {"step":20,"loss":2.25,"lr":0.0002}

            """
        let points = try TrainingLog.read(Array(log.utf8), name: "train.jsonl")
        XCTAssertEqual(points, [TrainingLogPoint(step: 10, loss: 3.5, learningRate: 0.0001),
                                TrainingLogPoint(step: 20, loss: 2.25, learningRate: 0.0002)])
        XCTAssertThrowsError(try TrainingLog.read(Array((log + "{\"step\":30}\n").utf8), name: "train.jsonl")) { error in
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

    /// Hostile logs are refused naming the line, which counts blank lines too.
    func testHostileLogsAreRefusedNamingTheLine() throws {
        func message(_ log: String) -> String {
            do { _ = try TrainingLog.read(Array(log.utf8), name: "train.jsonl"); return "" } catch { return "\(error)" }
        }
        let ok = "{\"step\":1,\"loss\":2,\"lr\":0.1}\n"
        XCTAssertTrue(message(ok + "\n\n{\"step\":1e15}\n").hasPrefix("train.jsonl line 4:"), message(ok + "\n\n{\"step\":1e15}\n"))
        XCTAssertTrue(message("{\"step\":1e15,\"loss\":2,\"lr\":0.1}\n" + ok).hasPrefix("train.jsonl line 2: step 1 does not follow"))
        XCTAssertTrue(message(ok + "{\"step\":1,\"loss\":2,\"lr\":0.1}\n").contains("line 2"))
        XCTAssertTrue(message("{\"step\":-3,\"loss\":2,\"lr\":0.1}\n").contains("line 1: step -3"))
        XCTAssertTrue(message("{\"step\":1e300,\"loss\":2,\"lr\":0.1}\n").contains("line 1: step"))
        XCTAssertTrue(message("{\"step\":2.5,\"loss\":2,\"lr\":0.1}\n").contains("line 1: step"))
        XCTAssertTrue(message(ok + "{\"step\":2,\"loss\":2,\"lr\":-0.1}\n").contains("line 2: lr -0.1"))
        XCTAssertTrue(message(ok + "{\"step\":2,\"loss\":null,\"lr\":0.1}\n").contains("line 2"))
        XCTAssertTrue(message(ok + "{\"step\":2,\"loss\":1e999,\"lr\":0.1}\n").contains("line 2"))
        XCTAssertEqual(try TrainingLog.read(Array(("\n" + ok + "\r\n").utf8), name: "t").count, 1)
    }

    /// Huge but finite values and a huge last step draw quickly inside the canvas.
    func testHugeValuesDrawInsideTheCanvas() throws {
        let points = [TrainingLogPoint(step: 0, loss: -1e300, learningRate: 1e300),
                      TrainingLogPoint(step: 1, loss: 1e300, learningRate: 0),
                      TrainingLogPoint(step: 1 << 52, loss: 1, learningRate: 1e-300)]
        let canvas = Plots.trainingCurve(points)
        XCTAssertEqual(Array(try canvas.png().prefix(4)), [137, 80, 78, 71])
    }

    /// A line whose end points lie far outside the canvas is clipped before it is walked (it
    /// stepped through every one of its ~1e12 positions before).
    func testLinesAreClippedToTheCanvas() {
        var canvas = Canvas(width: 10, height: 10)
        canvas.line(-1_000_000_000_000, -1_000_000_000_000, 1_000_000_000_000, 1_000_000_000_000, color: .black)
        for i in 0..<10 { XCTAssertEqual(canvas.pixel(x: i, y: i), .black) }
        XCTAssertEqual(canvas.pixel(x: 0, y: 9), .white)
        canvas.line(-50, 5, -1, 5, color: .red)   // wholly outside: nothing drawn
        XCTAssertEqual(canvas.pixel(x: 0, y: 5), .white)
        canvas.line(3, 3, 3, 3, color: .red)
        XCTAssertEqual(canvas.pixel(x: 3, y: 3), .red)
    }
}
