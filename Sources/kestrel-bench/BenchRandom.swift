import Foundation
import KestrelEngine
import KestrelLoadSupport

/// The benchmarks' inputs: SplitMix64 (KestrelLoadSupport's), deterministic for a seed. Unit vectors by Box-Muller for
/// the index bench (its committed figures use seed 1), uniform tensors for the kernel and model benches.
struct BenchRandom {
    private var generator: SplitMix64
    init(seed: UInt64 = 0x1234_5678) { generator = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { generator.next() }
    mutating func uniform() -> Double { generator.uniform() }
    mutating func unitVectors(_ n: Int, _ d: Int) -> [Float] {
        var out = [Float](repeating: 0, count: n * d)
        for r in 0..<n {
            var norm = 0.0
            for c in 0..<d {
                let g = (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform())
                out[r * d + c] = Float(g)
                norm += g * g
            }
            let scale = Float(1 / norm.squareRoot())
            for c in 0..<d { out[r * d + c] *= scale }
        }
        return out
    }

    /// A tensor of values uniform in [-scale, scale).
    mutating func tensor(_ shape: [Int], scale: Float = 1) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float(2 * uniform() - 1) * scale })
    }
}
