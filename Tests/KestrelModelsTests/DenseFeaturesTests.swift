import Foundation
import KestrelKernels
@testable import KestrelModels
import KestrelTestSupport
import XCTest

/// `VisionTransformer.denseFeatures` (MaskCLIP, ClearCLIP, NACLIP on the GEMM seam) against its
/// naive twin `NaiveCLIP.denseFeatures`, on the tiny fixture models in both layouts.
final class DenseFeaturesTests: XCTestCase {
    func testDenseFeaturesMatchTheNaiveTwinForEveryMethod() throws {
        for name in FusedForwardTests.models {
            let dir = Fixtures.url("models/\(name)")
            let model = try CLIPModel(directory: dir)
            let naive = try NaiveCLIP(directory: dir)
            let s = model.config.imageSize, grid = s / model.config.patchSize
            for method in DenseMethod.allCases {
                for batch in [1, 2] {
                    let p = FusedForwardTests.pixels(batch, s, seed: UInt64(batch) + 11)
                    let got = model.vision.denseFeatures(p, method: method)
                    XCTAssertEqual(got.shape, [batch, grid * grid, model.config.embedDim])
                    let want = naive.denseFeatures(p, method: method)
                    let scale = max(1, want.data.map(abs).max() ?? 1)
                    XCTAssertLessThanOrEqual(maxAbsDifference(got.data, want.data), 2e-5 * scale, "\(name) \(method) batch \(batch)")
                }
            }
        }
    }

    /// The three methods give different features (each really changes the last block), and a
    /// batch of two gives each image what it gets alone.
    func testMethodsDifferAndBatchItemsAreIndependent() throws {
        let model = try CLIPModel(directory: Fixtures.url("models/hf-tiny"))
        let s = model.config.imageSize
        let two = FusedForwardTests.pixels(2, s, seed: 5)
        let n = 3 * s * s
        let first = Tensor(shape: [1, 3, s, s], data: Array(two.data[0..<n]))
        let second = Tensor(shape: [1, 3, s, s], data: Array(two.data[n..<(2 * n)]))
        var outputs: [[Float]] = []
        for method in DenseMethod.allCases {
            let both = model.vision.denseFeatures(two, method: method).data
            let a = model.vision.denseFeatures(first, method: method).data, b = model.vision.denseFeatures(second, method: method).data
            XCTAssertLessThanOrEqual(maxAbsDifference(both, a + b), 1e-4, "\(method)")
            outputs.append(both)
        }
        for i in 0..<outputs.count { for j in (i + 1)..<outputs.count {
            XCTAssertGreaterThan(maxAbsDifference(outputs[i], outputs[j]), 1e-3, "methods \(i) and \(j) agree")
        } }
    }

    /// NACLIP's prior: 1 on the diagonal of the patch block, falling with grid distance, 0 for the class token.
    func testNeighbourhoodPriorIsAGaussianOfGridDistance() {
        let bias = DenseAttention.neighbourhoodBias(grid: 3, sigma: 1)
        let t = 10
        XCTAssertEqual(bias[0], 0); XCTAssertEqual(bias[1], 0); XCTAssertEqual(bias[t], 0)
        XCTAssertEqual(bias[1 * t + 1], 1, accuracy: 1e-6)
        XCTAssertEqual(bias[1 * t + 2], Float(exp(-0.5)), accuracy: 1e-6)   // (0,0) to (0,1)
        XCTAssertEqual(bias[1 * t + 5], Float(exp(-1.0)), accuracy: 1e-6)   // (0,0) to (1,1)
        XCTAssertEqual(bias[1 * t + 9], Float(exp(-4.0)), accuracy: 1e-6)   // (0,0) to (2,2)
    }
}
