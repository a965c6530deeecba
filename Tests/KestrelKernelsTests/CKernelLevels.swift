import KestrelKernels
import XCTest

// Test support for the CKernels builds: run a body with one instruction-set level forced, or skip
// (XCTSkip, with the reason) when this processor lacks it. XCTest runs test methods one at a
// time, so forcing the process-wide level here is safe.

/// Runs `body` with the element-wise kernels forced to `level`, then returns to the best level.
func atLevel(_ level: SIMDLevel, _ body: () throws -> Void) throws {
    guard ElementwiseKernels.force(level) else {
        throw XCTSkip("this processor lacks \(level) (best level here: \(ElementwiseKernels.best))")
    }
    defer { ElementwiseKernels.force(nil) }
    XCTAssertEqual(ElementwiseKernels.active, level)
    try body()
}

/// Row and column counts of the element-wise tests: SIMD tails of every length class at 8 and 16
/// lanes, and the ViT shapes (768, 3072).
let levelRows = [1, 3, 7, 50, 77]
let levelColumns = [1, 15, 17, 33, 64, 768, 3072]

final class CKernelLevelTests: XCTestCase {
    /// The portable build always exists; a forced level is what `active` reports; nil returns to the best.
    func testForcingALevel() {
        XCTAssertTrue(ElementwiseKernels.force(.portable))
        XCTAssertEqual(ElementwiseKernels.active, .portable)
        XCTAssertTrue(ElementwiseKernels.force(nil))
        XCTAssertEqual(ElementwiseKernels.active, ElementwiseKernels.best)
        for level in SIMDLevel.allCases where level.rawValue > ElementwiseKernels.best.rawValue {
            XCTAssertFalse(ElementwiseKernels.force(level), "\(level) forced on a processor without it")
            XCTAssertEqual(ElementwiseKernels.active, ElementwiseKernels.best)
        }
    }
}
