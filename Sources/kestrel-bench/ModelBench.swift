import Foundation
import KestrelEngine

/// `kestrel-bench model --model DIR`: image-tower throughput at batch 1 and 32, and text-query
/// latency at several lengths against the full 77-token context measured in the same run.
func runModelBench(args: [String]) throws {
    guard let i = args.firstIndex(of: "--model"), i + 1 < args.count else {
        print("usage: kestrel-bench model --model DIR [--repeats N]"); return
    }
    let repeats = args.firstIndex(of: "--repeats").flatMap { Int(args[$0 + 1]) } ?? 3
    let model = try CLIPModel(directory: URL(fileURLWithPath: args[i + 1]))
    let c = model.config
    print("model: \(model.directory.lastPathComponent), \(model.parameterCount) parameters, \(Kernels.threads) threads")

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
        let ids = [c.endTokenID - 1] + [Int](repeating: 320, count: 5) + [c.endTokenID]
        let t = try best { for _ in 0..<50 { _ = try model.encodeText([ids]) } }
        print(String(format: "text tower, 7 tokens: %.2f ms per query", t * 1000 / 50))
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

