import Foundation

// Naive twins: contrastive loss (with a Double-only entry point for finite differences) and the
// optimiser kernels.

extension NaiveTrainOps {
    // MARK: Contrastive loss

    /// The loss of `TrainOps.contrastiveLoss` computed directly in Double from Double inputs:
    /// image, text [B·D]; targets nil (identity) or [B·B] row-stochastic.
    public static func contrastiveLossValue(
        image: [Double], text: [Double], logScale: Double, targets: [Double]?, batch B: Int, dim D: Int
    ) -> Double {
        let s = exp(logScale)
        var L = [Double](repeating: 0, count: B * B)
        for i in 0..<B { for j in 0..<B {
            var dot = 0.0
            for c in 0..<D { dot += image[i * D + c] * text[j * D + c] }
            L[i * B + j] = s * dot
        } }
        func t(_ i: Int, _ j: Int) -> Double { targets.map { $0[i * B + j] } ?? (i == j ? 1 : 0) }
        var lossRows = 0.0, lossCols = 0.0
        for i in 0..<B {
            let lse = logSumExp((0..<B).map { L[i * B + $0] })
            for j in 0..<B { lossRows -= t(i, j) * (L[i * B + j] - lse) }
        }
        for j in 0..<B {
            let lse = logSumExp((0..<B).map { L[$0 * B + j] })
            var colSum = 0.0
            for i in 0..<B { colSum += t(i, j) }
            guard colSum > 0 else { continue }
            for i in 0..<B { lossCols -= t(i, j) / colSum * (L[i * B + j] - lse) }
        }
        return (lossRows / Double(B) + lossCols / Double(B)) / 2
    }

    /// As `TrainOps.contrastiveLoss`: the loss from `contrastiveLossValue`, gradients by the
    /// closed form written out element by element.
    public static func contrastiveLoss(
        image: UnsafePointer<Float>, text: UnsafePointer<Float>, logScale: Float, targets: [Float]?,
        batch B: Int, dim D: Int,
        dImage: UnsafeMutablePointer<Float>?, dText: UnsafeMutablePointer<Float>?, dLogScale: UnsafeMutablePointer<Float>?
    ) -> Float {
        let img = (0..<(B * D)).map { Double(image[$0]) }, txt = (0..<(B * D)).map { Double(text[$0]) }
        let tg = targets.map { $0.map(Double.init) }
        let loss = contrastiveLossValue(image: img, text: txt, logScale: Double(logScale), targets: tg, batch: B, dim: D)
        let s = exp(Double(logScale))
        var L = [Double](repeating: 0, count: B * B)
        for i in 0..<B { for j in 0..<B {
            var dot = 0.0
            for c in 0..<D { dot += img[i * D + c] * txt[j * D + c] }
            L[i * B + j] = s * dot
        } }
        func t(_ i: Int, _ j: Int) -> Double { tg.map { $0[i * B + j] } ?? (i == j ? 1 : 0) }
        var dL = [Double](repeating: 0, count: B * B)
        let w = 1 / Double(2 * B)
        for i in 0..<B {
            let lse = logSumExp((0..<B).map { L[i * B + $0] })
            var tSum = 0.0
            for j in 0..<B { tSum += t(i, j) }
            for j in 0..<B {
                let p = exp(L[i * B + j] - lse)
                dL[i * B + j] += w * (tSum * p - t(i, j))
            }
        }
        for j in 0..<B {
            var colSum = 0.0
            for i in 0..<B { colSum += t(i, j) }
            guard colSum > 0 else { continue }
            let lse = logSumExp((0..<B).map { L[$0 * B + j] })
            for i in 0..<B {
                let p = exp(L[i * B + j] - lse)
                dL[i * B + j] += w * (p - t(i, j) / colSum)
            }
        }
        if let dLogScale {
            var a = 0.0
            for k in 0..<(B * B) { a += dL[k] * L[k] }
            dLogScale[0] += Float(a)
        }
        for i in 0..<B { for c in 0..<D {
            var gi = 0.0, gt = 0.0
            for j in 0..<B { gi += dL[i * B + j] * txt[j * D + c]; gt += dL[j * B + i] * img[j * D + c] }
            dImage?[i * D + c] += Float(s * gi)
            dText?[i * D + c] += Float(s * gt)
        } }
        return Float(loss)
    }

    /// log Σ exp(z), max-shifted.
    static func logSumExp(_ z: [Double]) -> Double {
        let m = z.max() ?? 0
        var s = 0.0
        for v in z { s += exp(v - m) }
        return m + log(s)
    }

    // MARK: Optimiser

    /// One AdamW step as torch.optim.AdamW, in Double per element (state stored back as Float).
    public static func adamWStep(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
        learningRate: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float, step: Int
    ) {
        let lr = Double(learningRate), b1 = Double(beta1), b2 = Double(beta2), t = Double(step)
        for i in 0..<count {
            let g = Double(gradients[i])
            var p = Double(parameters[i]) * (1 - lr * Double(weightDecay))
            let mi = b1 * Double(m[i]) + (1 - b1) * g
            let vi = b2 * Double(v[i]) + (1 - b2) * g * g
            p -= lr * (mi / (1 - pow(b1, t))) / ((vi / (1 - pow(b2, t))).squareRoot() + Double(eps))
            parameters[i] = Float(p); m[i] = Float(mi); v[i] = Float(vi)
        }
    }

    /// Σ g² in Double.
    public static func sumOfSquares(_ g: UnsafePointer<Float>, count: Int) -> Double {
        var s = 0.0
        for i in 0..<count { s += Double(g[i]) * Double(g[i]) }
        return s
    }

    /// g *= factor.
    public static func scale(_ g: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        for i in 0..<count { g[i] *= factor }
    }
}
