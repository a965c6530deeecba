import Dispatch
import Foundation
import KestrelKernels

// `kestrel-bench gemm-layers [--rows M] [--layers L] [--precision P] [--threads N] [--seconds S]`:
// a ViT-B/32 layer sequence on the oneDNN backend (per layer: LayerNorm, qkv 768->2304 + bias,
// out 768->768 accumulated into the residual, LayerNorm, fc1 768->3072 + bias + GELU, fc2
// 3072->768 accumulated), L layers back to back (default 12), M rows (1600 = batch 32, 50 = one
// image). Attention is left out (its kernels belong to another helper). The LayerNorms are one
// plain row loop run three ways in the same run:
//   gemm-only  no element-wise pass (the products alone);
//   dispatch   split over Swift Dispatch threads (DispatchQueue.concurrentPerform), like RowKernels;
//   openmp     split over oneDNN's OpenMP pool (OpenMPRows.forEach).
// Prints the median ms per layer over repeats of the whole sequence. libgomp's wait policy is read
// at load, so compare policies by running this under different environments (OMP_WAIT_POLICY,
// GOMP_SPINCOUNT); the line "env:" echoes them.

private struct RowsPointer: @unchecked Sendable { let p: UnsafeMutablePointer<Float> }

private func layerNorm(_ x: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Range<Int>, c: Int) {
    for r in rows {
        let s = x + r * c, d = y + r * c
        var mean: Float = 0
        for j in 0..<c { mean += s[j] }
        mean /= Float(c)
        var v: Float = 0
        for j in 0..<c { v += (s[j] - mean) * (s[j] - mean) }
        let inv = 1 / (v / Float(c) + 1e-5).squareRoot()
        for j in 0..<c { d[j] = (s[j] - mean) * inv }
    }
}

func runGEMMLayersBench(args: [String]) {
    var rows = 1600, layers = 12, threads = Kernels.threads, seconds = 3.0, precision = Precision.int8
    var i = 0
    while i < args.count {
        let value = i + 1 < args.count ? args[i + 1] : ""
        switch args[i] {
        case "--rows": rows = Int(value) ?? rows
        case "--layers": layers = Int(value) ?? layers
        case "--threads": threads = Int(value) ?? threads
        case "--seconds": seconds = Double(value) ?? seconds
        case "--precision": precision = Precision(rawValue: value) ?? precision
        default: print("usage: kestrel-bench gemm-layers [--rows M] [--layers L] [--precision fp32|bf16|int8] [--threads N] [--seconds S]"); return
        }
        i += 2
    }
    guard let backend = OneDNNBackend.shared, backend.supports(precision) else { print("gemm-layers: oneDNN \(precision) not available here"); return }
    let env = ProcessInfo.processInfo.environment
    print("gemm-layers: \(layers) ViT-B/32 layers, M=\(rows), \(precision), \(threads) threads; env: OMP_WAIT_POLICY=\(env["OMP_WAIT_POLICY"] ?? "-") GOMP_SPINCOUNT=\(env["GOMP_SPINCOUNT"] ?? "-")")
    let c = 768
    var rng = BenchRandom()
    let ws = (0..<layers).map { _ in
        [(2304, c), (c, c), (3072, c), (c, 3072)].map { (n, k) in
            LinearWeight(weight: rng.tensor([n, k], scale: 1 / Float(k).squareRoot()), bias: rng.tensor([n]), precision: precision, backend: backend)
        }
    }
    let h = UnsafeMutablePointer<Float>.allocate(capacity: rows * c), ln = UnsafeMutablePointer<Float>.allocate(capacity: rows * c)
    let qkv = UnsafeMutablePointer<Float>.allocate(capacity: rows * 2304), mid = UnsafeMutablePointer<Float>.allocate(capacity: rows * 3072)
    defer { for p in [h, ln, qkv, mid] { p.deallocate() } }
    let start = rng.tensor([rows, c]).data
    let hp = RowsPointer(p: h), lp = RowsPointer(p: ln)
    let m = rows, nt = threads

    func norm(_ mode: Int) {
        switch mode {
        case 1:
            DispatchQueue.concurrentPerform(iterations: nt) { t in
                layerNorm(hp.p, into: lp.p, rows: (m * t / nt)..<(m * (t + 1) / nt), c: c)
            }
        case 2: OpenMPRows.forEach(m, threads: nt) { r in layerNorm(hp.p, into: lp.p, rows: r, c: c) }
        default: break
        }
    }
    func sequence(_ mode: Int) {
        start.withUnsafeBufferPointer { h.update(from: $0.baseAddress!, count: rows * c) }
        if mode == 0 { ln.update(from: h, count: rows * c) }
        for w in ws {
            norm(mode)
            w[0].apply(ln, rows: rows, into: qkv, threads: threads)
            // Attention left out: the out projection reads the first 768 columns' worth of qkv.
            w[1].apply(qkv, rows: rows, accumulate: true, into: h, threads: threads)
            norm(mode)
            w[2].apply(ln, rows: rows, activation: .gelu, into: mid, threads: threads)
            w[3].apply(mid, rows: rows, accumulate: true, into: h, threads: threads)
        }
    }
    let names = ["gemm-only", "dispatch", "openmp"]
    var times = [[Double]](repeating: [], count: 3)
    for m in 0..<3 { sequence(m) }   // primitives created, pages touched
    let t0 = DispatchTime.now().uptimeNanoseconds
    repeat {
        for m in 0..<3 {   // interleaved, so load swings hit all three alike
            let t = DispatchTime.now().uptimeNanoseconds
            sequence(m)
            times[m].append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6 / Double(layers))
        }
    } while times[0].count < 3 || (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 < seconds && times[0].count < 500)
    let medians = times.map { $0.sorted()[$0.count / 2] }
    for m in 0..<3 {
        let extra = m == 0 ? "" : String(format: "  element-wise cost %.3f ms/layer", medians[m] - medians[0])
        print(String(format: "  %-10@ %8.3f ms/layer (median of %d)%@", names[m] as NSString, medians[m], times[m].count, extra as NSString))
    }
    print(String(format: "  openmp / dispatch: %.2f", medians[2] / medians[1]))
}
