import Foundation

/// Search texts for load tests and synthetic indexes, in the default model's world (drawn
/// shapes, colours, sizes, textures, Fashion-MNIST's garments): "a small red circle", "a striped
/// blue dress on a white background", "a large green star next to a black coat"... About 150,000
/// distinct texts of 2 to 14 tokens (within the default model's 16), deterministic for a seed.
public enum SyntheticQueries {
    static let colours = ["red", "green", "blue", "yellow", "orange", "purple", "pink", "brown", "black", "white", "grey", "cyan"]
    static let objects = ["circle", "square", "triangle", "star", "rectangle", "hexagon", "heart", "diamond",
                          "t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]
    static let sizes = ["small", "large", "tiny"]
    static let textures = ["striped", "dotted", "plain", "checked"]

    /// The short forms (about 7,000 texts): a colour and an object with at most a size, a texture,
    /// a background or a framing. Captions for cluster centres come from these.
    public static func simpleForms() -> [String] {
        var out: [String] = []
        for c in colours {
            for o in objects {
                out.append("a \(c) \(o)")
                out.append("a photo of a \(c) \(o)")
                out.append("a drawing of a \(c) \(o)")
                for s in sizes { out.append("a \(s) \(c) \(o)") }
                for t in textures { out.append("a \(t) \(c) \(o)") }
                for s in sizes { for t in textures { out.append("a \(s) \(t) \(c) \(o)") } }
                for b in colours where b != c { out.append("a \(c) \(o) on a \(b) background") }
            }
        }
        return out
    }

    /// Every form: the short ones and pairs ("a small red circle next to a blue coat").
    public static func allForms() -> [String] {
        var out = simpleForms()
        for s in sizes { for c in colours { for o in objects { for c2 in colours { for o2 in objects where o2 != o || c2 != c {
            out.append("a \(s) \(c) \(o) next to a \(c2) \(o2)")
        } } } } }
        return out
    }

    /// `count` distinct texts (at most `allForms().count`) in a shuffled order fixed by `seed`.
    public static func queries(count: Int, seed: UInt64 = 1) -> [String] {
        var all = allForms()
        var rng = SplitMix64(seed: seed)
        rng.shuffle(&all)
        return Array(all.prefix(max(0, count)))
    }

    /// `count` distinct captions from the short forms, shuffled by `seed` (cluster centres).
    public static func captions(count: Int, seed: UInt64 = 2) -> [String] {
        var all = simpleForms()
        var rng = SplitMix64(seed: seed)
        rng.shuffle(&all)
        return Array(all.prefix(max(0, count)))
    }
}

/// SplitMix64: a small deterministic generator (kestrel-bench's BenchRandom draws from it too).
public struct SplitMix64: Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in (0, 1).
    public mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }
    /// Uniform in 0..<n (n > 0).
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    /// A standard normal draw (Box-Muller).
    public mutating func gaussian() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()) }
    /// Fisher-Yates.
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, below(i + 1)) }
    }
}
