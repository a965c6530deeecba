import Foundation
import KestrelEngine

/// The benchmarks' inputs: SplitMix64, deterministic for a seed. Unit vectors by Box-Muller for
/// the index bench (its committed figures use seed 1), uniform tensors for the kernel and model benches.
struct BenchRandom {
    var state: UInt64
    init(seed: UInt64 = 0x1234_5678) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }
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
