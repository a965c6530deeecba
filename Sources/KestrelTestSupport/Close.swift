import XCTest

/// Largest absolute difference between two equal-length arrays.
public func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    var m: Float = 0
    for i in a.indices { m = max(m, abs(a[i] - b[i])) }
    return m
}

/// Cosine similarity of two vectors (in double precision).
public func cosine(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    var dot = 0.0, na = 0.0, nb = 0.0
    for i in a.indices {
        dot += Double(a[i]) * Double(b[i]); na += Double(a[i]) * Double(a[i]); nb += Double(b[i]) * Double(b[i])
    }
    return dot / max((na * nb).squareRoot(), 1e-30)
}

/// Asserts that two arrays agree element-wise within `absolute + relative * |expected|`.
public func assertClose(
    _ actual: [Float], _ expected: [Float], absolute: Float = 1e-5, relative: Float = 1e-4,
    _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line
) {
    guard actual.count == expected.count else {
        XCTFail("length \(actual.count) != \(expected.count) \(message())", file: file, line: line); return
    }
    for i in actual.indices {
        let tol = absolute + relative * abs(expected[i])
        if !(abs(actual[i] - expected[i]) <= tol) {
            XCTFail("index \(i): \(actual[i]) vs \(expected[i]) (tol \(tol)) \(message())", file: file, line: line)
            return
        }
    }
}

/// Deterministic pseudo-random numbers for tests (SplitMix64).
public struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// `n` floats uniform in [-scale, scale).
    public mutating func floats(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in Float.random(in: -scale..<scale, using: &self) }
    }
}
