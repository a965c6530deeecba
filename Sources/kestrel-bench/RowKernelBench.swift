import Dispatch
import Foundation
import KestrelKernels

// Row kernels: the previous Swift SIMD path (SwiftSIMDKernels; attention on two sgemm calls around
// the Swift softmax) against CKernels at each level the processor has, in the same run, on the
// ViT-B/32 shapes. Part of `kestrel-bench kernels`; figures in docs/benchmarks.md ("Row kernels").

private func cell(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
private func ms(_ v: Double) -> String { String(format: "%.3f", v) }

/// Levels this processor has, lowest first.
private let levels = SIMDLevel.allCases.filter { $0.rawValue <= ElementwiseKernels.best.rawValue }

/// One line: the baseline, then each level; the ratio is baseline / best level's time.
private func line(_ name: String, baseline: Double, _ perLevel: [Double], extra: String = "") {
    var s = cell(name, 40) + cell(ms(baseline), 11)
    for v in perLevel { s += cell(ms(v), 11) }
    s += "x" + String(format: "%.2f", baseline / perLevel.last!)
    print(s + extra)
}

/// The Swift baseline and the C kernel at each level, taking turns (see `interleaved`).
private func compare(
    reset: () -> Void = {}, swift: @escaping () -> Void, c: @escaping () -> Void
) -> (swift: Double, c: [Double]) {
    let times = interleaved(reset: reset, [(nil, swift)] + levels.map { ($0, c) })
    return (times[0], Array(times.dropFirst()))
}

/// Median ms of each body, the bodies taking turns run by run (rounds after one warm-up each), so
/// a change in the machine's load hits them alike. `level` forces a CKernels level for a body.
private func interleaved(
    rounds: Int = 15, reset: () -> Void = {}, _ bodies: [(level: SIMDLevel?, body: () -> Void)]
) -> [Double] {
    defer { ElementwiseKernels.force(nil) }
    var times = [[Double]](repeating: [], count: bodies.count)
    for round in 0...rounds {
        for (i, entry) in bodies.enumerated() {
            precondition(ElementwiseKernels.force(entry.level))
            reset()
            let start = DispatchTime.now().uptimeNanoseconds
            entry.body()
            if round > 0 { times[i].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6) }
        }
    }
    return times.map { $0.sorted()[$0.count / 2] }
}

func runRowKernelBench() {
    var rng = BenchRandom(seed: 77)
    let threads = Kernels.threads
    print("")
    print("row kernels: Swift SIMD (baseline) vs CKernels per level, taking turns, \(threads) threads, median ms of 15; ratio = Swift / \(levels.last!)")
    print(cell("op", 40) + cell("swift", 11) + levels.map { cell($0.description, 11) }.joined() + "ratio")

    // LayerNorm 1600x768 (out of place, so no reset needed).
    do {
        let x = rng.tensor([1600, 768]).data, w = rng.tensor([768]).data, b = rng.tensor([768]).data
        var y = [Float](repeating: 0, count: x.count)
        y.withUnsafeMutableBufferPointer { yb in
            let yp = yb.baseAddress!
            let t = compare(
                swift: { SwiftSIMDKernels.layerNormRows(x, rows: 1600, columns: 768, weight: w, bias: b, eps: 1e-5, into: yp, threads: threads) },
                c: { layerNormRows(x, rows: 1600, columns: 768, weight: w, bias: b, eps: 1e-5, into: yp, threads: threads) })
            line("layerNorm 1600x768", baseline: t.swift, t.c)
        }
    }

    // Activations 1600x3072, in place; the input is restored (untimed) before each run.
    do {
        let h = rng.tensor([1600, 3072], scale: 4).data
        var buf = h
        buf.withUnsafeMutableBufferPointer { bb in
            let p = bb.baseAddress!
            let reset = { p.update(from: h, count: h.count) }
            for activation in Activation.allCases {
                let t = compare(reset: reset,
                    swift: { SwiftSIMDKernels.activate(p, count: h.count, activation, threads: threads) },
                    c: { activate(p, count: h.count, activation, threads: threads) })
                line("\(activation.rawValue) 1600x3072", baseline: t.swift, t.c)
            }
        }
    }

    // Softmax of attention-score rows: vision 32 x 12 heads x 50 rows of 50; text 8 heads x 77 of 77.
    for (rows, c) in [(32 * 12 * 50, 50), (8 * 77, 77)] {
        let s = rng.tensor([rows, c], scale: 8).data
        var buf = s
        buf.withUnsafeMutableBufferPointer { bb in
            let p = bb.baseAddress!
            let reset = { p.update(from: s, count: s.count) }
            let t = compare(reset: reset,
                swift: { SwiftSIMDKernels.softmaxRows(p, rows: rows, columns: c, threads: threads) },
                c: { softmaxRows(p, rows: rows, columns: c, threads: threads) })
            line("softmax \(rows)x\(c)", baseline: t.swift, t.c)
        }
    }

    // L2 normalisation 1600x768 (idempotent, no reset needed).
    do {
        var x = rng.tensor([1600, 768]).data
        x.withUnsafeMutableBufferPointer { xb in
            let p = xb.baseAddress!
            let t = compare(
                swift: { SwiftSIMDKernels.l2NormalizeRows(p, rows: 1600, columns: 768, threads: threads) },
                c: { l2NormalizeRows(p, rows: 1600, columns: 768, threads: threads) })
            line("l2Normalize 1600x768", baseline: t.swift, t.c)
        }
    }

    // Attention over a fused qkv: the old path (sgemm + Swift softmax), sgemm + C softmax at the
    // best level, and the direct kernel at each level. `automatic` takes the direct kernel up to
    // `directAttentionMaxKeys` keys.
    print("")
    print("attention over fused qkv [B,T,3C], d = 64, paths taking turns: swift = old sgemm path; sgemm = sgemm + C softmax (\(levels.last!)); then direct per level")
    print(cell("shape", 40) + cell("swift", 11) + cell("sgemm", 11) + levels.map { cell("direct " + $0.description, 11) }.joined() + "ratio")
    let shapes: [(String, Int, Int, Int, Bool, [Int]?)] = [
        ("vision B32 T50 H12", 32, 50, 12, false, nil),
        ("vision B1 T50 H12", 1, 50, 12, false, nil),
        ("text B1 T7 H8 causal", 1, 7, 8, true, nil),
        ("text B1 T77 H8 causal", 1, 77, 8, true, nil),
        ("text B1 T77 H8 causal valid 7", 1, 77, 8, true, [7]),
        ("text B32 T77 H8 causal", 32, 77, 8, true, nil),
        ("vision B1 T197 H12", 1, 197, 12, false, nil),
        ("vision B8 T197 H12", 8, 197, 12, false, nil),
        ("vision B1 T257 H16", 1, 257, 16, false, nil),
        ("vision B8 T257 H16", 8, 257, 16, false, nil),
        ("vision B1 T577 H16", 1, 577, 16, false, nil),
    ]
    for (name, batch, t, heads, causal, valid) in shapes {
        let d = 64, c = heads * d
        let qkv = rng.tensor([batch, t, 3 * c]).data
        var out = [Float](repeating: 0, count: batch * t * c)
        out.withUnsafeMutableBufferPointer { ob in
            let o = ob.baseAddress!
            func run(_ path: AttentionPath) -> () -> Void {
                {
                    attention(qkv: qkv, batch: batch, tokens: t, heads: heads, headDim: d, causal: causal,
                              validLengths: valid, into: o, path: path, threads: threads)
                }
            }
            let bodies: [(level: SIMDLevel?, body: () -> Void)] =
                [(nil, run(.swiftSGEMM)), (nil, run(.sgemm))] + levels.map { ($0, run(.direct)) } + [(nil, run(.automatic))]
            let times = interleaved(bodies)
            let old = times[0], viaSGEMM = times[1], auto = times.last!
            let direct = Array(times[2..<(2 + levels.count)])
            var s = cell(name, 40) + cell(ms(old), 11) + cell(ms(viaSGEMM), 11)
            for v in direct { s += cell(ms(v), 11) }
            s += "x" + String(format: "%.2f", old / auto) + " (automatic " + ms(auto) + " ms)"
            print(s)
        }
    }
}
