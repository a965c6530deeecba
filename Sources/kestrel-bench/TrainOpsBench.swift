import Foundation
import KestrelKernels

// `kestrel-bench train-ops [--batch 64] [--repeats 5]`: milliseconds and GFLOP/s of the training
// kernels (TrainOps) at the default model's shapes (width 256, MLP 1024, 4 heads, 50 vision tokens,
// 16 text tokens, embed 256). Median of `repeats` runs after one warm-up.

private func medianMs(_ repeats: Int, _ body: () -> Void) -> Double {
    body()
    var t: [Double] = []
    for _ in 0..<repeats {
        let s = DispatchTime.now().uptimeNanoseconds
        body()
        t.append(Double(DispatchTime.now().uptimeNanoseconds - s) / 1e6)
    }
    return t.sorted()[t.count / 2]
}

private func report(_ name: String, _ ms: Double, flops: Double) {
    let gf = flops > 0 ? String(format: "%8.1f GFLOP/s", flops / ms / 1e6) : ""
    print(name.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: "%9.3f ms ", ms) + gf)
}

func runTrainOpsBench(args: [String]) {
    func value(_ flag: String, _ d: Int) -> Int {
        if let i = args.firstIndex(of: flag), i + 1 < args.count, let v = Int(args[i + 1]) { return v }
        return d
    }
    let batch = value("--batch", 64), repeats = value("--repeats", 5)
    print("train-ops: batch \(batch), threads \(Kernels.threads), median of \(repeats)")
    func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
        for i in 0..<n { p[i] = Float((i * 7919) % 2001) / 1000 - 1 }
        return p
    }
    let shapes: [(String, Int, Int, Int)] = [
        ("vision qkv 256->768", batch * 50, 256, 768), ("vision out 256->256", batch * 50, 256, 256),
        ("vision fc1 256->1024", batch * 50, 256, 1024), ("vision fc2 1024->256", batch * 50, 1024, 256),
        ("text qkv 256->768", batch * 16, 256, 768), ("text fc1 256->1024", batch * 16, 256, 1024),
        ("text fc2 1024->256", batch * 16, 1024, 256),
    ]
    for (name, rows, inDim, outDim) in shapes {
        let x = buffer(rows * inDim), w = buffer(outDim * inDim), b = buffer(outDim), y = buffer(rows * outDim)
        let dx = buffer(rows * inDim), dw = buffer(outDim * inDim), db = buffer(outDim)
        defer { [x, w, b, y, dx, dw, db].forEach { $0.deallocate() } }
        let flops = 2.0 * Double(rows * inDim * outDim)
        report("\(name) fwd (rows \(rows))", medianMs(repeats) {
            TrainOps.linearForward(y: y, x: x, weight: w, bias: b, rows: rows, inDim: inDim, outDim: outDim)
        }, flops: flops)
        report("\(name) bwd", medianMs(repeats) {
            TrainOps.linearBackward(dx: dx, dWeight: dw, dBias: db, dy: y, x: x, weight: w, rows: rows, inDim: inDim, outDim: outDim)
        }, flops: 2 * flops)
    }
    for (name, tokens, causal) in [("vision attention T=50", 50, false), ("text attention T=16 causal", 16, true)] {
        let width = 256, heads = 4
        let qkv = buffer(batch * tokens * 3 * width), out = buffer(batch * tokens * width)
        let probs = buffer(batch * heads * tokens * tokens), dqkv = buffer(batch * tokens * 3 * width)
        defer { [qkv, out, probs, dqkv].forEach { $0.deallocate() } }
        let lengths = causal ? (0..<batch).map { 5 + $0 % 12 } : nil
        let flops = 4.0 * Double(batch * tokens * tokens * width)
        report("\(name) fwd", medianMs(repeats) {
            TrainOps.attentionForward(out: out, probs: probs, qkv: qkv, batch: batch, tokens: tokens, width: width,
                                      heads: heads, causal: causal, validLengths: lengths)
        }, flops: flops)
        report("\(name) bwd", medianMs(repeats) {
            TrainOps.attentionBackward(dqkv: dqkv, dOut: out, qkv: qkv, probs: probs, batch: batch, tokens: tokens,
                                       width: width, heads: heads)
        }, flops: 2 * flops)
    }
    do {
        let rows = batch * 50, dim = 256
        let x = buffer(rows * dim), y = buffer(rows * dim), w = buffer(dim), m = buffer(rows), r = buffer(rows), dx = buffer(rows * dim)
        defer { [x, y, w, m, r, dx].forEach { $0.deallocate() } }
        report("layerNorm fwd \(rows)x\(dim)", medianMs(repeats) {
            TrainOps.layerNormForward(y: y, mean: m, rstd: r, x: x, weight: w, bias: w, rows: rows, dim: dim, eps: 1e-5)
        }, flops: 0)
        let dw = buffer(dim), db = buffer(dim)
        defer { dw.deallocate(); db.deallocate() }
        report("layerNorm bwd", medianMs(repeats) {
            TrainOps.layerNormBackward(dx: dx, dWeight: dw, dBias: db, dy: y, x: x, mean: m, rstd: r, weight: w, rows: rows, dim: dim)
        }, flops: 0)
        let n = rows * 1024
        let a = buffer(n), ay = buffer(n), ad = buffer(n)
        defer { [a, ay, ad].forEach { $0.deallocate() } }
        for act in [Activation.gelu, .quickGelu] {
            report("\(act) fwd \(rows)x1024", medianMs(repeats) { TrainOps.activationForward(act, y: ay, x: a, count: n) }, flops: 0)
            report("\(act) bwd", medianMs(repeats) { TrainOps.activationBackward(act, dx: ad, dy: ay, x: a, count: n) }, flops: 0)
        }
    }
    do {
        let c = 3, side = 224, patch = 32, e = 256, k = c * patch * patch, p = (side / patch) * (side / patch)
        let images = buffer(batch * c * side * side), w = buffer(e * k), out = buffer(batch * p * e), dw = buffer(e * k)
        defer { [images, w, out, dw].forEach { $0.deallocate() } }
        let flops = 2.0 * Double(batch * p * k * e)
        report("patch embed 224/32 -> 256 fwd", medianMs(repeats) {
            TrainOps.patchEmbedForward(out: out, images: images, weight: w, batch: batch, channels: c, height: side,
                                       width: side, patch: patch, embedWidth: e)
        }, flops: flops)
        report("patch embed bwd (weight)", medianMs(repeats) {
            TrainOps.patchEmbedBackward(dWeight: dw, dOut: out, images: images, batch: batch, channels: c, height: side,
                                        width: side, patch: patch, embedWidth: e)
        }, flops: flops)
    }
    do {
        let n = 6_000_000
        let p = buffer(n), g = buffer(n), m = buffer(n), v = buffer(n)
        for i in 0..<n { v[i] = abs(v[i]) }
        defer { [p, g, m, v].forEach { $0.deallocate() } }
        report("adamW 6M parameters", medianMs(repeats) {
            TrainOps.adamWStep(parameters: p, gradients: g, m: m, v: v, count: n, learningRate: 1e-4, beta1: 0.9,
                               beta2: 0.98, eps: 1e-6, weightDecay: 0.1, step: 3)
        }, flops: 0)
    }
}
