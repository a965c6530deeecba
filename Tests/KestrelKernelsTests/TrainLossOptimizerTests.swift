import Foundation
import KestrelKernels
import XCTest

/// Contrastive loss (hard and soft targets) against a direct Double computation and finite
/// differences; AdamW against a hand-written Double torch.optim.AdamW over several steps.
final class TrainLossOptimizerTests: XCTestCase {
    let batch = 7, dim = 13

    /// Rows of unit length, as the model feeds the loss.
    func unitRows(seed: UInt64) -> [Float] {
        var x = trainRandom(batch * dim, seed: seed)
        for r in 0..<batch {
            let n = (0..<dim).reduce(Float(0)) { $0 + x[r * dim + $1] * x[r * dim + $1] }.squareRoot()
            for c in 0..<dim { x[r * dim + c] /= n }
        }
        return x
    }

    /// A row-stochastic [B, B] matrix, mostly on the diagonal.
    func softTargets() -> [Float] {
        var t = trainRandom(batch * batch, seed: 81).map { abs($0) * 0.3 }
        for i in 0..<batch { t[i * batch + i] += 1 }
        for i in 0..<batch {
            let s = (0..<batch).reduce(Float(0)) { $0 + t[i * batch + $1] }
            for j in 0..<batch { t[i * batch + j] /= s }
        }
        return t
    }

    /// Written out independently of `NaiveTrainOps`: CE over rows with t, over columns with t^T
    /// renormalised, averaged.
    func directLoss(_ img: [Float], _ txt: [Float], _ logScale: Double, _ t: [Float]?) -> Double {
        let B = batch
        var L = [[Double]](repeating: [Double](repeating: 0, count: B), count: B)
        for i in 0..<B { for j in 0..<B {
            L[i][j] = exp(logScale) * (0..<dim).reduce(0.0) { $0 + Double(img[i * dim + $1]) * Double(txt[j * dim + $1]) }
        } }
        func target(_ i: Int, _ j: Int) -> Double { t.map { Double($0[i * B + j]) } ?? (i == j ? 1 : 0) }
        var imageToText = 0.0, textToImage = 0.0
        for i in 0..<B {
            let z = L[i].reduce(0.0) { $0 + exp($1) }
            for j in 0..<B { imageToText += -target(i, j) * log(exp(L[i][j]) / z) }
        }
        for j in 0..<B {
            let z = (0..<B).reduce(0.0) { $0 + exp(L[$1][j]) }
            let colSum = (0..<B).reduce(0.0) { $0 + target($1, j) }
            for i in 0..<B { textToImage += -(target(i, j) / colSum) * log(exp(L[i][j]) / z) }
        }
        return (imageToText / Double(B) + textToImage / Double(B)) / 2
    }

    func grads(_ img: [Float], _ txt: [Float], _ ls: Float, _ t: [Float]?, fast: Bool, times: Int = 1)
        -> (loss: Float, dImage: [Float], dText: [Float], dLogScale: Float) {
        var di = [Float](repeating: 0, count: batch * dim), dt = di, dl: [Float] = [0]
        var loss: Float = 0
        for _ in 0..<times {
            loss = fast
                ? TrainOps.contrastiveLoss(image: img, text: txt, logScale: ls, targets: t, batch: batch, dim: dim, dImage: &di, dText: &dt, dLogScale: &dl)
                : NaiveTrainOps.contrastiveLoss(image: img, text: txt, logScale: ls, targets: t, batch: batch, dim: dim, dImage: &di, dText: &dt, dLogScale: &dl)
        }
        return (loss, di, dt, dl[0])
    }

    func testContrastiveLossMatchesDirectComputationHardAndSoft() {
        let img = unitRows(seed: 82), txt = unitRows(seed: 83), ls = Float(log(14.0))
        for t in [nil, softTargets()] {
            let direct = directLoss(img, txt, Double(ls), t)
            let f = grads(img, txt, ls, t, fast: true), n = grads(img, txt, ls, t, fast: false)
            XCTAssertEqual(Double(f.loss), direct, accuracy: 1e-5 * max(1, direct), "fast loss, soft \(t != nil)")
            XCTAssertEqual(Double(n.loss), direct, accuracy: 1e-5 * max(1, direct), "naive loss, soft \(t != nil)")
            assertAllClose(f.dImage, n.dImage, atol: 1e-6, rtol: 1e-5, "dImage")
            assertAllClose(f.dText, n.dText, atol: 1e-6, rtol: 1e-5, "dText")
            XCTAssertEqual(f.dLogScale, n.dLogScale, accuracy: 1e-6)
        }
        // With all-equal features every row is uniform: loss = log B, gradients of logScale zero.
        let same = [Float](repeating: 1 / Float(dim).squareRoot(), count: batch * dim)
        let u = grads(same, same, 2, nil, fast: true)
        XCTAssertEqual(Double(u.loss), log(Double(batch)), accuracy: 1e-5)
        XCTAssertEqual(u.dLogScale, 0, accuracy: 1e-6)
    }

    /// Finite differences in Double on `contrastiveLossValue` (h = 1e-5: truncation ~1e-10, rounding
    /// ~1e-16/1e-5 = 1e-11), so the only error left is the Float storage of the gradients (~1e-7
    /// relative): tolerance 1e-5 absolute.
    func testContrastiveLossGradientsMatchFiniteDifferences() {
        let img = unitRows(seed: 84), txt = unitRows(seed: 85), ls: Float = 2.3
        for t in [nil, softTargets()] {
            let f = grads(img, txt, ls, t, fast: true)
            let di = img.map(Double.init), dt = txt.map(Double.init), tg = t.map { $0.map(Double.init) }
            let h = 1e-5
            func value(_ i: [Double], _ x: [Double], _ l: Double) -> Double {
                NaiveTrainOps.contrastiveLossValue(image: i, text: x, logScale: l, targets: tg, batch: batch, dim: dim)
            }
            for e in Swift.stride(from: 0, to: batch * dim, by: 5) {
                var p = di, m = di
                p[e] += h; m[e] -= h
                XCTAssertEqual(Double(f.dImage[e]), (value(p, dt, Double(ls)) - value(m, dt, Double(ls))) / (2 * h), accuracy: 1e-5, "dImage \(e)")
                var pt = dt, mt = dt
                pt[e] += h; mt[e] -= h
                XCTAssertEqual(Double(f.dText[e]), (value(di, pt, Double(ls)) - value(di, mt, Double(ls))) / (2 * h), accuracy: 1e-5, "dText \(e)")
            }
            let fdScale = (value(di, dt, Double(ls) + h) - value(di, dt, Double(ls) - h)) / (2 * h)
            XCTAssertEqual(Double(f.dLogScale), fdScale, accuracy: 1e-5, "dLogScale, soft \(t != nil)")
        }
    }

    func testContrastiveLossAccumulates() {
        let img = unitRows(seed: 86), txt = unitRows(seed: 87)
        let once = grads(img, txt, 1.5, softTargets(), fast: true), twice = grads(img, txt, 1.5, softTargets(), fast: true, times: 2)
        XCTAssertEqual(once.loss, twice.loss)
        assertAllClose(twice.dImage, once.dImage.map { 2 * $0 }, atol: 1e-7, rtol: 1e-6, "dImage twice")
        assertAllClose(twice.dText, once.dText.map { 2 * $0 }, atol: 1e-7, rtol: 1e-6, "dText twice")
        XCTAssertEqual(twice.dLogScale, 2 * once.dLogScale, accuracy: 1e-6)
    }

    // MARK: AdamW

    /// torch.optim.AdamW written out in Double (not the kernels' code path).
    func referenceAdamW(p: inout [Double], m: inout [Double], v: inout [Double], g: [Double], lr: Double, b1: Double,
                        b2: Double, eps: Double, wd: Double, t: Int) {
        for i in 0..<p.count {
            p[i] *= 1 - lr * wd
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
            let mHat = m[i] / (1 - pow(b1, Double(t))), vHat = v[i] / (1 - pow(b2, Double(t)))
            p[i] -= lr * mHat / (vHat.squareRoot() + eps)
        }
    }

    func testAdamWMatchesReferenceOverStepsWithAndWithoutDecay() {
        let n = 1031
        for wd: Float in [0, 0.1] {
            var p = trainRandom(n, seed: 91), m = [Float](repeating: 0, count: n), v = m
            var np = p, nm = m, nv = v
            var rp = p.map(Double.init), rm = [Double](repeating: 0, count: n), rv = rm
            for t in 1...4 {
                let g = trainRandom(n, seed: 100 + UInt64(t), scale: 0.01 * Float(t))
                TrainOps.adamWStep(parameters: &p, gradients: g, m: &m, v: &v, count: n, learningRate: 1e-2,
                                   beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: wd, step: t)
                NaiveTrainOps.adamWStep(parameters: &np, gradients: g, m: &nm, v: &nv, count: n, learningRate: 1e-2,
                                        beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: wd, step: t)
                referenceAdamW(p: &rp, m: &rm, v: &rv, g: g.map(Double.init), lr: 1e-2, b1: 0.9, b2: 0.98, eps: 1e-6,
                               wd: Double(wd), t: t)
            }
            // Each step moves p by about lr = 1e-2; Float rounding of the update is ~1e-9 per step.
            assertAllClose(p, rp.map { Float($0) }, atol: 1e-6, rtol: 1e-6, "fast AdamW, wd \(wd)")
            assertAllClose(np, rp.map { Float($0) }, atol: 1e-6, rtol: 1e-6, "naive AdamW, wd \(wd)")
            assertAllClose(m, rm.map { Float($0) }, atol: 1e-8, rtol: 1e-5, "m, wd \(wd)")
            assertAllClose(v, rv.map { Float($0) }, atol: 1e-10, rtol: 1e-5, "v, wd \(wd)")
        }
    }

    /// Three steps against torch 2.15 `torch.optim.AdamW(lr=1e-2, betas=(0.9, 0.98), eps=1e-6,
    /// weight_decay=0.1)` on CPU (the single-tensor path), values printed as float32 hex the
    /// reference environment: p, exp_avg, exp_avg_sq after step 3. Torch's order of float32 operations
    /// and its fused multiply-adds are followed, so the values agree bit for bit.
    func testAdamWMatchesTorchThreeSteps() {
        var p: [Float] = [0.5, -1.25, 0.003, 2.0, -0.75, 1e-4, 0.9]
        var m = [Float](repeating: 0, count: 7), v = m
        let grads: [[Float]] = [[0.1, -0.2, 0.0005, 1.5, -0.03, 0.0, 2e-4], [0.05, 0.3, -0.001, -1.0, 0.02, 1e-7, -0.5],
                                [-0.2, 0.1, 0.002, 0.5, 0.0, -3e-3, 0.25]]
        for (t, g) in grads.enumerated() {
            TrainOps.adamWStep(parameters: &p, gradients: g, m: &m, v: &v, count: 7, learningRate: 1e-2, beta1: 0.9,
                               beta2: 0.98, eps: 1e-6, weightDecay: 0.1, step: t + 1)
        }
        let torchP: [Float] = [0x1.ecc8c0p-2, -0x1.3e07aap+0, -0x1.eaf9b6p-8, 0x1.fad2cep+0, -0x1.786c58p-1, 0x1.84cb28p-8, 0x1.cb49f2p-1]
        let torchM: [Float] = [-0x1.e4f766p-8, 0x1.54c988p-6, 0x1.3b9f12p-13, 0x1.4dd2f4p-4, -0x1.4a4d2ap-11, -0x1.3a903ap-12, -0x1.476a24p-6]
        let torchV: [Float] = [0x1.10e9b4p-10, 0x1.662174p-9, 0x1.c0673ap-24, 0x1.15c854p-4, 0x1.a59080p-16, 0x1.828c0cp-23, 0x1.930be4p-8]
        for i in 0..<7 {
            XCTAssertEqual(p[i], torchP[i], accuracy: 0, "p[\(i)]")
            XCTAssertEqual(m[i], torchM[i], accuracy: 0, "m[\(i)]")
            XCTAssertEqual(v[i], torchV[i], accuracy: 0, "v[\(i)]")
        }
    }

    /// The first step with zero decay moves every parameter by lr·sign(g) (m̂/sqrt(v̂) = g/|g|).
    func testAdamWFirstStepIsSignedLearningRate() {
        var p: [Float] = [1, -2, 0.5], m: [Float] = [0, 0, 0], v: [Float] = [0, 0, 0]
        TrainOps.adamWStep(parameters: &p, gradients: [0.3, -0.001, 5], m: &m, v: &v, count: 3, learningRate: 0.1,
                           beta1: 0.9, beta2: 0.999, eps: 1e-12, weightDecay: 0, step: 1)
        assertAllClose(p, [0.9, -1.9, 0.4], atol: 1e-6, rtol: 0, "first step")
    }

    func testSumOfSquaresAndScale() {
        let n = 100_003
        var g = trainRandom(n, seed: 95)
        let expected = g.reduce(0.0) { $0 + Double($1) * Double($1) }
        XCTAssertEqual(TrainOps.sumOfSquares(g, count: n), expected, accuracy: 1e-9 * expected)
        XCTAssertEqual(NaiveTrainOps.sumOfSquares(g, count: n), expected, accuracy: 1e-9 * expected)
        let g0 = g
        TrainOps.scale(&g, count: n, by: 0.25)
        assertAllClose(g, g0.map { $0 * 0.25 }, atol: 0, rtol: 0, "scale")
    }

    func testAddAndAccumulateMatchNaive() {
        let n = 200_003
        let a = trainRandom(n, seed: 96), b = trainRandom(n, seed: 97)
        var fy = [Float](repeating: 0, count: n), ny = fy
        TrainOps.add(y: &fy, a: a, b: b, count: n)
        NaiveTrainOps.add(y: &ny, a: a, b: b, count: n)
        XCTAssertEqual(fy, ny)
        TrainOps.accumulate(into: &fy, b, count: n)
        NaiveTrainOps.accumulate(into: &ny, b, count: n)
        XCTAssertEqual(fy, ny)
        XCTAssertEqual(fy[n - 1], a[n - 1] + b[n - 1] + b[n - 1])
    }
}
