import Foundation
import KestrelKernels
import XCTest

/// The three activations' forward and derivative: fast vs naive, known values, finite differences.
final class TrainActivationTests: XCTestCase {
    let count = 1037  // odd, and large enough to split over threads

    func testActivationForwardAndBackwardMatchNaive() {
        let x = trainRandom(count, seed: 41, scale: 5), dy = trainRandom(count, seed: 42)
        for a in Activation.allCases {
            var fy = [Float](repeating: 0, count: count), ny = fy
            TrainOps.activationForward(a, y: &fy, x: x, count: count)
            NaiveTrainOps.activationForward(a, y: &ny, x: x, count: count)
            assertAllClose(fy, ny, atol: 2e-6, rtol: 1e-5, "\(a) forward")
            var fdx = [Float](repeating: 0.5, count: count), ndx = fdx
            TrainOps.activationBackward(a, dx: &fdx, dy: dy, x: x, count: count)
            NaiveTrainOps.activationBackward(a, dx: &ndx, dy: dy, x: x, count: count)
            assertAllClose(fdx, ndx, atol: 2e-6, rtol: 1e-5, "\(a) backward")
        }
    }

    /// f'(x) at a few points against closed forms evaluated by hand.
    func testActivationDerivativesAtKnownPoints() {
        // GELU: f'(0) = 0.5; f'(1) = Φ(1) + φ(1) = 0.8413447 + 0.2419707.
        XCTAssertEqual(NaiveTrainOps.activationDerivative(.gelu, 0), 0.5, accuracy: 1e-12)
        XCTAssertEqual(NaiveTrainOps.activationDerivative(.gelu, 1), 0.8413447 + 0.2419707, accuracy: 1e-6)
        // QuickGELU: f'(0) = sigmoid(0) = 0.5.
        XCTAssertEqual(NaiveTrainOps.activationDerivative(.quickGelu, 0), 0.5, accuracy: 1e-12)
        XCTAssertEqual(NaiveTrainOps.activationDerivative(.geluTanh, 0), 0.5, accuracy: 1e-12)
        // Far tails: f' → 1 for large x, → 0 for very negative x.
        for a in Activation.allCases {
            XCTAssertEqual(NaiveTrainOps.activationDerivative(a, 12), 1, accuracy: 1e-6, "\(a)")
            XCTAssertEqual(NaiveTrainOps.activationDerivative(a, -12), 0, accuracy: 1e-6, "\(a)")
        }
    }

    func testActivationBackwardMatchesFiniteDifferences() {
        let n = 37
        let x = trainRandom(n, seed: 43, scale: 3), r = trainRandom(n, seed: 44)
        for a in Activation.allCases {
            var dx = [Float](repeating: 0, count: n)
            TrainOps.activationBackward(a, dx: &dx, dy: r, x: x, count: n)
            checkFiniteDifferences("\(a)", inputs: [x], analytic: [dx], r: r, samples: n) { v in
                var y = [Float](repeating: 0, count: n)
                NaiveTrainOps.activationForward(a, y: &y, x: v[0], count: n)
                return y
            }
            var twice = [Float](repeating: 0, count: n)
            TrainOps.activationBackward(a, dx: &twice, dy: r, x: x, count: n)
            TrainOps.activationBackward(a, dx: &twice, dy: r, x: x, count: n)
            assertAllClose(twice, dx.map { 2 * $0 }, atol: 1e-7, rtol: 1e-6, "\(a) accumulates")
        }
    }
}
