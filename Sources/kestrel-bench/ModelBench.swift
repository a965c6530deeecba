import Foundation
import KestrelEngine

/// `kestrel-bench model --model DIR`: image-tower throughput at batch 1 and 32, and text-query
/// latency at several lengths against the full 77-token context measured in the same run.
func runModelBench(args: [String]) throws {
    guard let i = args.firstIndex(of: "--model"), i + 1 < args.count else {
        print("usage: kestrel-bench model --model DIR [--precision P] [--text-only] [--repeats N]"); return
    }
    let repeats = args.firstIndex(of: "--repeats").flatMap { Int(args[$0 + 1]) } ?? 3
    let precision = args.firstIndex(of: "--precision").flatMap { Precision(rawValue: args[$0 + 1]) } ?? .fp32
    let model = try CLIPModel(directory: URL(fileURLWithPath: args[i + 1]), precision: precision)
    let c = model.config
    print("model: \(model.directory.lastPathComponent), \(model.parameterCount) parameters, \(Kernels.threads) threads, \(model.precision.rawValue) on \(model.gemmBackend)")

    func best(_ body: () throws -> Void) rethrows -> Double {
        var times: [Double] = []
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return times.min()!
    }

    var rng = BenchRandom(seed: 12345)
    if args.contains("--text-only") {
        // Tower latency by token count, interleaved round by round so load drifts hit every
        // length alike; best of `repeats` rounds of 10 queries each.
        let lengths = [4, 7, 8, 9, 12, 16, 32, 77].filter { $0 <= c.contextLength }
        var bestMs = [Int: Double]()
        for _ in 0..<repeats {
            for n in lengths {
                let ids = [c.endTokenID - 1] + [Int](repeating: 320, count: n - 2) + [c.endTokenID]
                _ = try model.encodeText([ids])
                let t0 = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<10 { _ = try model.encodeText([ids]) }
                let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e7
                bestMs[n] = min(bestMs[n] ?? .infinity, ms)
            }
        }
        for n in lengths {
            print(String(format: "text tower, %2d tokens: %7.2f ms per query (%.2fx the 16-token cost)", n, bestMs[n]!, bestMs[n]! / (bestMs[16] ?? bestMs[n]!)))
        }
        return
    }
    for batch in [1, 32] {
        let pixels = rng.tensor([batch, 3, c.imageSize, c.imageSize], scale: 2)
        _ = try model.encodeImages(pixels)  // warm-up
        let t = try best { _ = try model.encodeImages(pixels) }
        print(String(format: "image tower, batch %2d: %7.1f ms per batch, %6.2f images/s", batch, t * 1000, Double(batch) / t))
    }

    let full = try best { _ = try model.encodeText([[c.endTokenID - 1] + [Int](repeating: 320, count: 75) + [c.endTokenID]]) }
    print(String(format: "text tower, 77 tokens (baseline): %7.2f ms", full * 1000))
    for length in [7, 16, 32] {
        let ids = [c.endTokenID - 1] + [Int](repeating: 320, count: length - 2) + [c.endTokenID] + [Int](repeating: 0, count: 77 - length)
        let t = try best { _ = try model.encodeText([ids]) }
        print(String(format: "text tower, %2d tokens (padded to 77): %7.2f ms, %.2fx the 77-token cost", length, t * 1000, t / full))
    }
}

