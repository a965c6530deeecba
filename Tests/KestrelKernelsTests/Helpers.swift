import KestrelKernels
import KestrelTestSupport
import XCTest

/// A tensor of uniform values in [-scale, scale) from a seeded generator.
func randomTensor(_ shape: [Int], _ rng: inout SeededRandom, scale: Float = 1) -> Tensor {
    Tensor(shape: shape, data: rng.floats(shape.reduce(1, *), scale: scale))
}

/// Sizes that catch off-by-one and SIMD-tail bugs (16-wide loads leave tails of 1, 3, 7, 1).
let oddSizes = [1, 3, 7, 17, 33]

func assertNoNaN(_ t: Tensor, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertFalse(t.data.contains { !$0.isFinite }, "non-finite value \(message)", file: file, line: line)
}
