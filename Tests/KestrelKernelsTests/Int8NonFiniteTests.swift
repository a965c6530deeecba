import KestrelKernels
import KestrelTestSupport
import XCTest

/// A NaN or infinite activation must come out of an int8 product as NaN, as it does in fp32, so the
/// towers' finiteness check refuses it; dynamic quantisation used to skip it and return a finite
/// answer made of the other values (found by trying a damaged model at --precision int8).
final class Int8NonFiniteTests: XCTestCase {
    func testANonFiniteActivationGivesNaNNotAFiniteAnswer() throws {
        let choice = GEMMBackends.choose(for: .int8)
        guard choice.precision == .int8 else { throw XCTSkip("int8 does not run here: \(choice.note ?? "")") }
        var rng = SeededRandom(seed: 5)
        let (rows, k, n) = (7, 65, 33)
        let weight = LinearWeight(weight: Tensor(shape: [n, k], data: rng.floats(n * k, scale: 1)),
                                  bias: Tensor(shape: [n], data: rng.floats(n, scale: 1)), precision: .int8, backend: choice.backend)
        for bad in [Float.nan, .infinity, -.infinity] {
            var x = rng.floats(rows * k, scale: 1)
            x[3 * k + 5] = bad
            var y = [Float](repeating: 0, count: rows * n)
            x.withUnsafeBufferPointer { xb in y.withUnsafeMutableBufferPointer { yb in
                weight.apply(xb.baseAddress!, rows: rows, into: yb.baseAddress!, threads: 2)
            } }
            XCTAssertTrue(y.contains { $0.isNaN }, "activation \(bad): the output is all finite")
        }
    }
}
