import Dispatch
import KestrelKernels

// Kernel benchmark: each fast kernel against its naive twin (same run, same inputs), on
// ViT-B/32-shaped work. Call `runKernelBench()` from main.swift (`kestrel-bench kernels`).
//
// Results, 2026-11-23, release build, 2 threads, on a SHARED 2-core machine (load average ~11
// from other builds, so absolute figures are low and noisy; rerun on a quiet machine):
//
//   op                                        fast ms   naive ms   ratio
//   linear 50x768 -> 3072                      12.06     248.66    x20.6   19.6 GFLOP/s
//   linear 1600x768 -> 3072 (batch 32)        160.17          -        -   47.1 GFLOP/s
//   layerNorm 1600x768                          1.82      11.78     x6.5
//   gelu 1600x3072                             25.78      48.75     x1.9
//   quick_gelu 1600x3072                       14.44      39.53     x2.7
//   gelu_pytorch_tanh 1600x3072                25.81     266.85    x10.3
//   softmax 19200x50                            4.66      26.11     x5.6
//   add 1600x768                                0.44       0.51     x1.1
//   l2Normalize 1600x768                        0.81      10.55    x13.0
//   attention B32 T50 C768 H12                 24.26     309.83    x12.8   10.1 GFLOP/s
//   attention B1 T77 C512 H8 causal valid 7     0.15      10.32    x70.7
//   attention B32 T77 C512 H8 causal           23.42          -        -   16.6 GFLOP/s
//   patchEmbed 1x3x224x224 P32 C768             8.64     163.17    x18.9   26.8 GFLOP/s
//   patchEmbed 32x3x224x224 P32 C768          135.15          -        -   54.7 GFLOP/s
//
// The activations, softmax, layerNorm, l2Normalize and attention rows above now run on CKernels
// (AVX-512 here); `runRowKernelBench` (RowKernelBench.swift) compares them with the old Swift SIMD
// path at each level in the same run: figures in docs/benchmarks.md, "Row kernels in C".
//
// Earlier, at load ~4: linear 50x768->3072 48.7 GFLOP/s, batch 32 77.2 GFLOP/s. Before OpenBLAS
// was held to one thread inside our parallel regions, "attention B32 T77 causal" took 1472 ms.

/// Median wall time in milliseconds of `body` over `repeats` runs (after one warm-up).
private func milliseconds(repeats: Int = 5, _ body: () -> Void) -> Double {
    body()
    var times: [Double] = []
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    return times.sorted()[times.count / 2]
}

private func row(_ name: String, _ fast: Double, _ naive: Double?, flops: Double? = nil) {
    var line = name.padding(toLength: 44, withPad: " ", startingAt: 0)
    line += String(fast.rounded(toPlaces: 3)).padding(toLength: 11, withPad: " ", startingAt: 0)
    if let naive {
        line += String(naive.rounded(toPlaces: 2)).padding(toLength: 11, withPad: " ", startingAt: 0)
        line += "x" + String((naive / fast).rounded(toPlaces: 1))
    } else {
        line += "-".padding(toLength: 11, withPad: " ", startingAt: 0) + "-"
    }
    if let flops { line += "   " + String((flops / fast / 1e6).rounded(toPlaces: 1)) + " GFLOP/s" }
    print(line)
}

extension Double {
    fileprivate func rounded(toPlaces p: Int) -> Double {
        var m = 1.0
        for _ in 0..<p { m *= 10 }
        return (self * m).rounded() / m
    }
}

/// Prints fast vs naive timings (ms) for every kernel on ViT-B/32 shapes, with `Kernels.threads` threads,
/// then the row kernels' Swift SIMD baseline against CKernels at each level (RowKernelBench.swift).
/// `kestrel-bench kernels --rows-only` prints only the latter.
func runKernelBench() {
    var rng = BenchRandom()
    print("kernel bench: \(Kernels.threads) threads; ms fast, ms naive, speed-up")
    print("op".padding(toLength: 44, withPad: " ", startingAt: 0) + "fast ms    naive ms   ratio")

    // One image: 50 tokens x 768; MLP 3072.
    let x1 = rng.tensor([50, 768]), w = rng.tensor([3072, 768]), b = rng.tensor([3072])
    let flops1 = 2.0 * 50 * 768 * 3072
    row("linear 50x768 -> 3072", milliseconds { _ = linear(x1, weight: w, bias: b) },
        milliseconds(repeats: 1) { _ = NaiveKernels.linear(x1, weight: w, bias: b) }, flops: flops1)
    let x32 = rng.tensor([1600, 768])
    row("linear 1600x768 -> 3072 (batch 32)", milliseconds { _ = linear(x32, weight: w, bias: b) }, nil,
        flops: 2.0 * 1600 * 768 * 3072)

    let lw = rng.tensor([768]), lb = rng.tensor([768])
    row("layerNorm 1600x768", milliseconds { _ = layerNorm(x32, weight: lw, bias: lb, eps: 1e-5) },
        milliseconds(repeats: 1) { _ = NaiveKernels.layerNorm(x32, weight: lw, bias: lb, eps: 1e-5) })

    let h = rng.tensor([1600, 3072])
    for activation in [Activation.gelu, .quickGelu, .geluTanh] {
        row("\(activation.rawValue) 1600x3072", milliseconds { var t = h; activation.apply(&t) },
            milliseconds(repeats: 1) { var t = h; NaiveKernels.apply(activation, &t) })
    }
    let s = rng.tensor([32 * 12 * 50, 50])
    row("softmax 19200x50", milliseconds { var t = s; softmax(&t) },
        milliseconds(repeats: 1) { var t = s; NaiveKernels.softmax(&t) })
    row("add 1600x768", milliseconds { var t = x32; add(&t, x32) },
        milliseconds(repeats: 1) { var t = x32; NaiveKernels.add(&t, x32) })
    row("l2Normalize 1600x768", milliseconds { var t = x32; l2Normalize(&t) },
        milliseconds(repeats: 1) { var t = x32; NaiveKernels.l2Normalize(&t) })

    let q = rng.tensor([32, 50, 768]), k = rng.tensor([32, 50, 768]), v = rng.tensor([32, 50, 768])
    let attnFlops = 4.0 * 32 * 50 * 50 * 768
    row("attention B32 T50 C768 H12", milliseconds { _ = attention(query: q, key: k, value: v, heads: 12, causal: false) },
        milliseconds(repeats: 1) { _ = NaiveKernels.attention(query: q, key: k, value: v, heads: 12, causal: false) },
        flops: attnFlops)
    let tq = rng.tensor([1, 77, 512]), tk = rng.tensor([1, 77, 512]), tv = rng.tensor([1, 77, 512])
    row("attention B1 T77 C512 H8 causal valid 7",
        milliseconds { _ = attention(query: tq, key: tk, value: tv, heads: 8, causal: true, validLengths: [7]) },
        milliseconds(repeats: 1) { _ = NaiveKernels.attention(query: tq, key: tk, value: tv, heads: 8, causal: true, validLengths: [7]) })

    let bq = rng.tensor([32, 77, 512])
    row("attention B32 T77 C512 H8 causal", milliseconds { _ = attention(query: bq, key: bq, value: bq, heads: 8, causal: true) },
        nil, flops: 4.0 * 32 * 77 * 77 * 512)

    let images = rng.tensor([1, 3, 224, 224]), pw = rng.tensor([768, 3, 32, 32])
    row("patchEmbed 1x3x224x224 P32 C768", milliseconds { _ = patchEmbed(images, weight: pw, patchSize: 32) },
        milliseconds(repeats: 1) { _ = NaiveKernels.patchEmbed(images, weight: pw, patchSize: 32) },
        flops: 2.0 * 49 * 3072 * 768)
    let images32 = rng.tensor([32, 3, 224, 224])
    row("patchEmbed 32x3x224x224 P32 C768", milliseconds { _ = patchEmbed(images32, weight: pw, patchSize: 32) }, nil,
        flops: 2.0 * 32 * 49 * 3072 * 768)

    runRowKernelBench()
}
