import KestrelKernels
import XCTest

/// LayerNorm, softmax and L2 normalisation: fast vs naive, finite differences, accumulation.
final class TrainRowOpsTests: XCTestCase {
    let rows = 7, dim = 19

    // MARK: LayerNorm

    func layerNorm(_ x: [Float], _ w: [Float], _ b: [Float], fast: Bool) -> (y: [Float], mean: [Float], rstd: [Float]) {
        var y = [Float](repeating: .nan, count: rows * dim), mean = [Float](repeating: .nan, count: rows), rstd = mean
        if fast {
            TrainOps.layerNormForward(y: &y, mean: &mean, rstd: &rstd, x: x, weight: w, bias: b, rows: rows, dim: dim, eps: 1e-5)
        } else {
            NaiveTrainOps.layerNormForward(y: &y, mean: &mean, rstd: &rstd, x: x, weight: w, bias: b, rows: rows, dim: dim, eps: 1e-5)
        }
        return (y, mean, rstd)
    }

    func layerNormGrads(_ x: [Float], _ w: [Float], _ b: [Float], dy: [Float], fast: Bool, times: Int = 1) -> [[Float]] {
        let f = layerNorm(x, w, b, fast: true)
        var dx = [Float](repeating: 0, count: rows * dim), dw = [Float](repeating: 0, count: dim), db = dw
        for _ in 0..<times {
            if fast {
                TrainOps.layerNormBackward(dx: &dx, dWeight: &dw, dBias: &db, dy: dy, x: x, mean: f.mean, rstd: f.rstd, weight: w, rows: rows, dim: dim)
            } else {
                NaiveTrainOps.layerNormBackward(dx: &dx, dWeight: &dw, dBias: &db, dy: dy, x: x, mean: f.mean, rstd: f.rstd, weight: w, rows: rows, dim: dim)
            }
        }
        return [dx, dw, db]
    }

    func layerNormInputs() -> ([Float], [Float], [Float]) {
        (trainRandom(rows * dim, seed: 11, scale: 2).map { $0 + 0.3 }, trainRandom(dim, seed: 12).map { $0 + 1 }, trainRandom(dim, seed: 13))
    }

    func testLayerNormForwardMatchesNaive() {
        let (x, w, b) = layerNormInputs()
        let f = layerNorm(x, w, b, fast: true), n = layerNorm(x, w, b, fast: false)
        assertAllClose(f.y, n.y, atol: 1e-5, rtol: 1e-5, "y")
        assertAllClose(f.mean, n.mean, atol: 1e-6, rtol: 1e-6, "mean")
        assertAllClose(f.rstd, n.rstd, atol: 1e-5, rtol: 1e-5, "rstd")
    }

    func testLayerNormBackwardMatchesNaive() {
        let (x, w, b) = layerNormInputs()
        let dy = trainRandom(rows * dim, seed: 14)
        let f = layerNormGrads(x, w, b, dy: dy, fast: true), n = layerNormGrads(x, w, b, dy: dy, fast: false)
        for k in 0..<3 { assertAllClose(f[k], n[k], atol: 1e-5, rtol: 1e-4, "layerNorm grad \(k)") }
    }

    func testLayerNormBackwardMatchesFiniteDifferences() {
        let (x, w, b) = layerNormInputs()
        let r = trainRandom(rows * dim, seed: 15)
        let g = layerNormGrads(x, w, b, dy: r, fast: true)
        checkFiniteDifferences("layerNorm", inputs: [x, w, b], analytic: g, r: r) { v in
            var y = [Float](repeating: 0, count: rows * dim), m = [Float](repeating: 0, count: rows), s = m
            NaiveTrainOps.layerNormForward(y: &y, mean: &m, rstd: &s, x: v[0], weight: v[1], bias: v[2], rows: rows, dim: dim, eps: 1e-5)
            return y
        }
    }

    func testLayerNormBackwardAccumulates() {
        let (x, w, b) = layerNormInputs()
        let dy = trainRandom(rows * dim, seed: 16)
        let once = layerNormGrads(x, w, b, dy: dy, fast: true), twice = layerNormGrads(x, w, b, dy: dy, fast: true, times: 2)
        for k in 0..<3 { assertAllClose(twice[k], once[k].map { 2 * $0 }, atol: 1e-6, rtol: 1e-5, "layerNorm twice \(k)") }
    }

    /// Many rows: the per-chunk partial sums of dWeight/dBias are reduced correctly.
    func testLayerNormBackwardManyRowsMatchesNaive() {
        let rows = 301, dim = 257
        let x = trainRandom(rows * dim, seed: 17), w = trainRandom(dim, seed: 18), dy = trainRandom(rows * dim, seed: 19)
        var y = [Float](repeating: 0, count: rows * dim), mean = [Float](repeating: 0, count: rows), rstd = mean
        TrainOps.layerNormForward(y: &y, mean: &mean, rstd: &rstd, x: x, weight: w, bias: w, rows: rows, dim: dim, eps: 1e-5)
        var fdx = [Float](repeating: 0, count: rows * dim), fdw = [Float](repeating: 0, count: dim), fdb = fdw
        var ndx = fdx, ndw = fdw, ndb = fdb
        TrainOps.layerNormBackward(dx: &fdx, dWeight: &fdw, dBias: &fdb, dy: dy, x: x, mean: mean, rstd: rstd, weight: w, rows: rows, dim: dim)
        NaiveTrainOps.layerNormBackward(dx: &ndx, dWeight: &ndw, dBias: &ndb, dy: dy, x: x, mean: mean, rstd: rstd, weight: w, rows: rows, dim: dim)
        assertAllClose(fdx, ndx, atol: 1e-5, rtol: 1e-4, "dx")
        assertAllClose(fdw, ndw, atol: 1e-4, rtol: 1e-4, "dWeight")
        assertAllClose(fdb, ndb, atol: 1e-4, rtol: 1e-4, "dBias")
    }

    // MARK: Softmax

    func testSoftmaxForwardAndBackwardMatchNaive() {
        let x = trainRandom(rows * dim, seed: 21, scale: 4), dy = trainRandom(rows * dim, seed: 22)
        var fy = [Float](repeating: 0, count: rows * dim), ny = fy
        TrainOps.softmaxForward(y: &fy, x: x, rows: rows, columns: dim)
        NaiveTrainOps.softmaxForward(y: &ny, x: x, rows: rows, columns: dim)
        assertAllClose(fy, ny, atol: 1e-6, rtol: 1e-5, "softmax y")
        var fdx = [Float](repeating: 0.25, count: rows * dim), ndx = fdx
        TrainOps.softmaxBackward(dx: &fdx, dy: dy, y: ny, rows: rows, columns: dim)
        NaiveTrainOps.softmaxBackward(dx: &ndx, dy: dy, y: ny, rows: rows, columns: dim)
        assertAllClose(fdx, ndx, atol: 1e-6, rtol: 1e-5, "softmax dx")
    }

    func testSoftmaxBackwardMatchesFiniteDifferences() {
        let x = trainRandom(rows * dim, seed: 23, scale: 2), r = trainRandom(rows * dim, seed: 24)
        var y = [Float](repeating: 0, count: rows * dim), dx = y
        TrainOps.softmaxForward(y: &y, x: x, rows: rows, columns: dim)
        TrainOps.softmaxBackward(dx: &dx, dy: r, y: y, rows: rows, columns: dim)
        checkFiniteDifferences("softmax", inputs: [x], analytic: [dx], r: r) { v in
            var out = [Float](repeating: 0, count: rows * dim)
            NaiveTrainOps.softmaxForward(y: &out, x: v[0], rows: rows, columns: dim)
            return out
        }
        var twice = [Float](repeating: 0, count: rows * dim)
        TrainOps.softmaxBackward(dx: &twice, dy: r, y: y, rows: rows, columns: dim)
        TrainOps.softmaxBackward(dx: &twice, dy: r, y: y, rows: rows, columns: dim)
        assertAllClose(twice, dx.map { 2 * $0 }, atol: 1e-7, rtol: 1e-6, "softmax accumulates")
    }

    // MARK: L2 normalisation

    func testL2NormalizeForwardAndBackwardMatchNaive() {
        let x = trainRandom(rows * dim, seed: 31), dy = trainRandom(rows * dim, seed: 32)
        var fy = [Float](repeating: 0, count: rows * dim), ny = fy
        var fn = [Float](repeating: 0, count: rows), nn = fn
        TrainOps.l2NormalizeForward(y: &fy, norm: &fn, x: x, rows: rows, dim: dim)
        NaiveTrainOps.l2NormalizeForward(y: &ny, norm: &nn, x: x, rows: rows, dim: dim)
        assertAllClose(fy, ny, atol: 1e-6, rtol: 1e-5, "l2 y")
        assertAllClose(fn, nn, atol: 1e-6, rtol: 1e-5, "l2 norm")
        var fdx = [Float](repeating: 0, count: rows * dim), ndx = fdx
        TrainOps.l2NormalizeBackward(dx: &fdx, dy: dy, y: ny, norm: nn, rows: rows, dim: dim)
        NaiveTrainOps.l2NormalizeBackward(dx: &ndx, dy: dy, y: ny, norm: nn, rows: rows, dim: dim)
        assertAllClose(fdx, ndx, atol: 1e-6, rtol: 1e-5, "l2 dx")
    }

    func testL2NormalizeBackwardMatchesFiniteDifferences() {
        let x = trainRandom(rows * dim, seed: 33), r = trainRandom(rows * dim, seed: 34)
        var y = [Float](repeating: 0, count: rows * dim), n = [Float](repeating: 0, count: rows), dx = y
        TrainOps.l2NormalizeForward(y: &y, norm: &n, x: x, rows: rows, dim: dim)
        TrainOps.l2NormalizeBackward(dx: &dx, dy: r, y: y, norm: n, rows: rows, dim: dim)
        checkFiniteDifferences("l2Normalize", inputs: [x], analytic: [dx], r: r) { v in
            var out = [Float](repeating: 0, count: rows * dim), nn = [Float](repeating: 0, count: rows)
            NaiveTrainOps.l2NormalizeForward(y: &out, norm: &nn, x: v[0], rows: rows, dim: dim)
            return out
        }
        var twice = [Float](repeating: 0, count: rows * dim)
        TrainOps.l2NormalizeBackward(dx: &twice, dy: r, y: y, norm: n, rows: rows, dim: dim)
        TrainOps.l2NormalizeBackward(dx: &twice, dy: r, y: y, norm: n, rows: rows, dim: dim)
        assertAllClose(twice, dx.map { 2 * $0 }, atol: 1e-7, rtol: 1e-6, "l2 accumulates")
    }
}
