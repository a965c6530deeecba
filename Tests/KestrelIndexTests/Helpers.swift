import Foundation
import KestrelIndex
import KestrelTestSupport

/// `n` random unit vectors of dimension `d`, row-major (Gaussian directions).
func unitVectors(_ n: Int, _ d: Int, seed: UInt64) -> [Float] {
    var rng = SeededRandom(seed: seed)
    var out = [Float](repeating: 0, count: n * d)
    for r in 0..<n {
        var norm: Float = 0
        for c in 0..<d {
            let u1 = Float(Double(rng.next() >> 11 + 1) / Double(1 << 53))
            let u2 = Float(Double(rng.next() >> 11) / Double(1 << 53))
            let g = (-2 * log(u1)).squareRoot() * cos(2 * Float.pi * u2)
            out[r * d + c] = g
            norm += g * g
        }
        for c in 0..<d { out[r * d + c] /= norm.squareRoot() }
    }
    return out
}

/// Sparse, non-positional ids so that positional bugs show.
func sparseIDs(_ n: Int) -> [Int64] { (0..<Int64(n)).map { $0 * 13 + 1_000_000_007 } }

/// Naive exact inner-product ranking (the reference for Flat).
func bruteForce(_ base: [Float], ids: [Int64], query: ArraySlice<Float>, k: Int) -> [(id: Int64, score: Float)] {
    let d = query.count
    let q = Array(query)
    var scored = [(id: Int64, score: Float)]()
    for (row, id) in ids.enumerated() {
        var s: Float = 0
        for c in 0..<d { s += base[row * d + c] * q[c] }
        scored.append((id, s))
    }
    return Array(scored.sorted { $0.score > $1.score }.prefix(k))
}

func row(_ x: [Float], _ r: Int, _ d: Int) -> [Float] { Array(x[(r * d)..<((r + 1) * d)]) }

/// Mean recall@k of `hits` against `truth`.
func recall(_ hits: [[(id: Int64, score: Float)]], _ truth: [[(id: Int64, score: Float)]]) -> Double {
    var found = 0, total = 0
    for (h, t) in zip(hits, truth) {
        found += Set(h.map(\.id)).intersection(t.map(\.id)).count
        total += t.count
    }
    return Double(found) / Double(total)
}
