import Dispatch
import Foundation
import KestrelKernels

// `kestrel-bench gemm [--threads N] [--seconds S]`: linear-layer products y = x W^T + b on the
// ViT-B/32 shapes (image tower: 768 wide, MLP 3072, fused QKV 2304; rows 1600 = batch 32 x 50
// tokens, 50 = one image, 7 = a short text) and the text tower's 512-wide shapes (rows 77 and 7),
// for OpenBLAS fp32 (the reference backend) and oneDNN fp32, bf16 and int8 (u8 with a zero point,
// and s8), each precision only where this processor runs it. Prints the median milliseconds and
// GFLOP/s (GOP/s for int8: 2 M N K per product, whatever the number format) and the ratio against
// OpenBLAS measured in the same run, on the same inputs. The first call of each oneDNN product
// (primitive creation) is reported apart and not in the median.

private func medianMilliseconds(seconds: Double, _ body: () -> Void) -> (median: Double, first: Double) {
    let t0 = DispatchTime.now().uptimeNanoseconds
    body()
    let first = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
    body()
    var times: [Double] = []
    let start = DispatchTime.now().uptimeNanoseconds
    repeat {
        let t = DispatchTime.now().uptimeNanoseconds
        body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
    } while times.count < 5 || (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < seconds && times.count < 2000)
    return (times.sorted()[times.count / 2], first)
}

private func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: n, withPad: " ", startingAt: 0) }
private func fmt(_ v: Double, _ places: Int = 1) -> String { String(format: "%.\(places)f", v) }

func runGEMMBench(args: [String]) {
    var threads = Kernels.threads, seconds = 0.3, vitOnly = false
    var i = 0
    while i < args.count {
        switch args[i] {
        case "--threads" where i + 1 < args.count: threads = Int(args[i + 1]) ?? threads; i += 1
        case "--seconds" where i + 1 < args.count: seconds = Double(args[i + 1]) ?? seconds; i += 1
        case "--vit": vitOnly = true
        default: print("usage: kestrel-bench gemm [--threads N] [--seconds S] [--vit]"); return
        }
        i += 1
    }
    let caps = GEMMCapabilities.detected
    print("gemm bench: \(threads) threads; oneDNN \(caps.onednn ? "yes" : "no"), AVX512-BF16 \(caps.avx512BF16 ? "yes" : "no"), VNNI \(caps.vnni ? "yes" : "no")")
    print("y[M,N] = x[M,K] W[N,K]^T + b; ms = median; rate in GFLOP/s (GOP/s int8); xBLAS = OpenBLAS ms / this ms, same run")

    var variants: [(label: String, backend: any GEMMBackend, precision: Precision)] = [("openblas f32", GEMMBackends.reference, .fp32)]
    if caps.onednn {
        let u8 = OneDNNBackend(int8Activations: .u8ZeroPoint), s8 = OneDNNBackend(int8Activations: .s8Symmetric)
        variants.append(("onednn f32", u8, .fp32))
        if caps.avx512BF16 { variants.append(("onednn bf16", u8, .bf16)) }
        if caps.vnni {
            // "old": the first int8 formulation (runtime output scales: oneDNN 2.6's gemm:jit).
            variants.append(("onednn int8 u8 old", OneDNNBackend(int8Activations: .u8ZeroPoint, int8Epilogue: .outputScales), .int8))
            variants.append(("onednn int8 u8", u8, .int8))
            variants.append(("onednn int8 s8", s8, .int8))
        }
    }
    var header = pad("M x K x N", 20)
    for v in variants { header += pad(v.label, 24) }
    print(header)

    let cases: [(m: Int, k: Int, n: Int, what: String)] =
        [1600, 50, 7].flatMap { m in [(768, 2304, "qkv"), (768, 768, "out"), (768, 3072, "fc1"), (3072, 768, "fc2")].map { (m, $0.0, $0.1, $0.2) } }
        + (vitOnly ? [] : [77, 7]).flatMap { m in [(512, 1536, "qkv"), (512, 512, "out"), (512, 2048, "fc1"), (2048, 512, "fc2")].map { (m, $0.0, $0.1, $0.2) } }
    var rng = BenchRandom()
    var sums = [Double](repeating: 0, count: variants.count)   // sum of ms over the image-tower batch-32 rows
    var sums50 = [Double](repeating: 0, count: variants.count)   // the same at one image (M = 50)
    var implementations: [String] = []
    var firstCalls: [String] = []
    for c in cases {
        let x = rng.tensor([c.m, c.k]).data, w = rng.tensor([c.n, c.k], scale: 1 / Float(c.k).squareRoot())
        let b = rng.tensor([c.n])
        var y = [Float](repeating: 0, count: c.m * c.n)
        var line = pad("\(c.m)x\(c.k)x\(c.n) \(c.what)", 20)
        var base = 0.0
        for (vi, v) in variants.enumerated() {
            let lw = LinearWeight(weight: w, bias: b, precision: v.precision, backend: v.backend)
            let t = x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    medianMilliseconds(seconds: seconds) { lw.apply(xp.baseAddress!, rows: c.m, into: yp.baseAddress!, threads: threads) }
                }
            }
            if vi == 0 { base = t.median }
            if c.m == 1600 && c.k == 768 || c.m == 1600 && c.k == 3072 { sums[vi] += t.median }
            if c.m == 50 && c.k == 768 || c.m == 50 && c.k == 3072 { sums50[vi] += t.median }
            if vi > 0 && c.what == "fc1" && (c.m == 1600 || c.m == 50) {
                implementations.append("\(v.label) M=\(c.m): \(OneDNNBackend.implementation(of: lw.packed, rows: c.m, threads: threads)), weights \(OneDNNBackend.layout(of: lw.packed))")
            }
            let rate = 2.0 * Double(c.m * c.n * c.k) / t.median / 1e6
            line += pad("\(fmt(t.median, 3)) \(fmt(rate, 0))" + (vi == 0 ? "" : " x\(fmt(base / t.median, 2))"), 24)
            if vi > 0 && c.m == 1600 { firstCalls.append("\(v.label) \(c.m)x\(c.k)x\(c.n): first call \(fmt(t.first, 2)) ms") }
        }
        print(line)
    }
    var total = pad("ViT layer, batch 32", 20)
    for (vi, s) in sums.enumerated() { total += pad("\(fmt(s, 2)) ms x\(fmt(sums[0] / s, 2))", 24) }
    print(total + "  (qkv + out + fc1 + fc2 at M=1600)")
    var total50 = pad("ViT layer, 1 image", 20)
    for s in sums50 { total50 += pad("\(fmt(s, 3)) ms x\(fmt(sums50[0] / s, 2))", 24) }
    print(total50 + "  (qkv + out + fc1 + fc2 at M=50)")
    print("oneDNN implementations (as DNNL_VERBOSE names them), fc1 768x3072 with bias:")
    for line in implementations { print("  " + line) }
    let cache = OneDNNBackend.primitiveCache
    print("oneDNN primitive cache: \(cache.entries) primitives, \(fmt(cache.creationSeconds * 1000, 1)) ms spent creating them")
    for f in firstCalls.prefix(8) { print("  " + f) }
    if !OneDNNBackend.notes.isEmpty { print("notes: " + OneDNNBackend.notes.joined(separator: "; ")) }
}
