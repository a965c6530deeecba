import KestrelKernels
import XCTest

/// Linear forward/backward (sgemm) against the naive twin, finite differences and accumulation.
final class TrainLinearTests: XCTestCase {
    let rows = 7, inDim = 13, outDim = 19

    func inputs() -> (x: [Float], w: [Float], b: [Float]) {
        (trainRandom(rows * inDim, seed: 1), trainRandom(outDim * inDim, seed: 2, scale: 0.5), trainRandom(outDim, seed: 3))
    }

    func testLinearForwardMatchesNaive() {
        let (x, w, b) = inputs()
        for bias in [true, false] {
            var fast = [Float](repeating: .nan, count: rows * outDim), naive = fast
            TrainOps.linearForward(y: &fast, x: x, weight: w, bias: bias ? b : nil, rows: rows, inDim: inDim, outDim: outDim)
            NaiveTrainOps.linearForward(y: &naive, x: x, weight: w, bias: bias ? b : nil, rows: rows, inDim: inDim, outDim: outDim)
            assertAllClose(fast, naive, atol: 1e-5, rtol: 1e-5, "linear forward, bias \(bias)")
        }
    }

    func backward(fast: Bool, x: [Float], w: [Float], dy: [Float], times: Int = 1) -> ([Float], [Float], [Float]) {
        var dx = [Float](repeating: 0, count: rows * inDim), dw = [Float](repeating: 0, count: outDim * inDim)
        var db = [Float](repeating: 0, count: outDim)
        for _ in 0..<times {
            if fast {
                TrainOps.linearBackward(dx: &dx, dWeight: &dw, dBias: &db, dy: dy, x: x, weight: w, rows: rows, inDim: inDim, outDim: outDim)
            } else {
                NaiveTrainOps.linearBackward(dx: &dx, dWeight: &dw, dBias: &db, dy: dy, x: x, weight: w, rows: rows, inDim: inDim, outDim: outDim)
            }
        }
        return (dx, dw, db)
    }

    func testLinearBackwardMatchesNaive() {
        let (x, w, _) = inputs()
        let dy = trainRandom(rows * outDim, seed: 4)
        let f = backward(fast: true, x: x, w: w, dy: dy), n = backward(fast: false, x: x, w: w, dy: dy)
        assertAllClose(f.0, n.0, atol: 1e-5, rtol: 1e-5, "dx")
        assertAllClose(f.1, n.1, atol: 1e-5, rtol: 1e-5, "dWeight")
        assertAllClose(f.2, n.2, atol: 1e-5, rtol: 1e-5, "dBias")
    }

    func testLinearBackwardMatchesFiniteDifferences() {
        let (x, w, b) = inputs()
        let r = trainRandom(rows * outDim, seed: 5)
        let (dx, dw, db) = backward(fast: true, x: x, w: w, dy: r)
        checkFiniteDifferences("linear", inputs: [x, w, b], analytic: [dx, dw, db], r: r) { v in
            var y = [Float](repeating: 0, count: rows * outDim)
            NaiveTrainOps.linearForward(y: &y, x: v[0], weight: v[1], bias: v[2], rows: rows, inDim: inDim, outDim: outDim)
            return y
        }
    }

    func testLinearBackwardAccumulates() {
        let (x, w, _) = inputs()
        let dy = trainRandom(rows * outDim, seed: 6)
        let once = backward(fast: true, x: x, w: w, dy: dy), twice = backward(fast: true, x: x, w: w, dy: dy, times: 2)
        assertAllClose(twice.0, once.0.map { 2 * $0 }, atol: 1e-6, rtol: 1e-6, "dx twice")
        assertAllClose(twice.1, once.1.map { 2 * $0 }, atol: 1e-6, rtol: 1e-6, "dWeight twice")
        assertAllClose(twice.2, once.2.map { 2 * $0 }, atol: 1e-6, rtol: 1e-6, "dBias twice")
    }

    func testLinearBackwardWithNilGradientsLeavesOthersAlone() {
        let (x, w, _) = inputs()
        let dy = trainRandom(rows * outDim, seed: 7)
        var dw = [Float](repeating: 0, count: outDim * inDim)
        TrainOps.linearBackward(dx: nil, dWeight: &dw, dBias: nil, dy: dy, x: x, weight: w, rows: rows, inDim: inDim, outDim: outDim)
        assertAllClose(dw, backward(fast: false, x: x, w: w, dy: dy).1, atol: 1e-5, rtol: 1e-5, "dWeight alone")
    }

    /// Large enough that OpenBLAS threads the products and the bias sum splits over column blocks.
    func testLinearLargeMatchesNaive() {
        let rows = 67, inDim = 300, outDim = 301
        let x = trainRandom(rows * inDim, seed: 8), w = trainRandom(outDim * inDim, seed: 9, scale: 0.1)
        let dy = trainRandom(rows * outDim, seed: 10)
        var fdx = [Float](repeating: 0.5, count: rows * inDim), ndx = fdx
        var fdw = [Float](repeating: 0.5, count: outDim * inDim), ndw = fdw
        var fdb = [Float](repeating: 0.5, count: outDim), ndb = fdb
        TrainOps.linearBackward(dx: &fdx, dWeight: &fdw, dBias: &fdb, dy: dy, x: x, weight: w, rows: rows, inDim: inDim, outDim: outDim)
        NaiveTrainOps.linearBackward(dx: &ndx, dWeight: &ndw, dBias: &ndb, dy: dy, x: x, weight: w, rows: rows, inDim: inDim, outDim: outDim)
        assertAllClose(fdx, ndx, atol: 1e-4, rtol: 1e-4, "dx large")
        assertAllClose(fdw, ndw, atol: 1e-4, rtol: 1e-4, "dWeight large")
        assertAllClose(fdb, ndb, atol: 1e-4, rtol: 1e-4, "dBias large")
    }
}
