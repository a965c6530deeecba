import XCTest
@testable import KestrelTraining

final class ScheduleTests: XCTestCase {
    func testWarmupIsLinearThenCosineToTheMinimum() {
        let s = Schedule(peak: 1e-3, minimum: 1e-5, warmupSteps: 10, totalSteps: 110)
        XCTAssertEqual(s.learningRate(step: 0), Float(1e-4))           // (0 + 1) / 10 of the peak
        XCTAssertEqual(s.learningRate(step: 4), Float(5e-4))
        XCTAssertEqual(s.learningRate(step: 9), Float(1e-3))           // last warm-up step reaches the peak
        XCTAssertEqual(s.learningRate(step: 10), Float(1e-3))          // cosine starts at the peak
        XCTAssertEqual(s.learningRate(step: 60), Float(1e-5 + (1e-3 - 1e-5) * 0.5), accuracy: 1e-9)  // half way
        XCTAssertEqual(s.learningRate(step: 35), Float(1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + cos(Double.pi / 4))), accuracy: 1e-9)
        XCTAssertEqual(s.learningRate(step: 110), Float(1e-5))         // the end
        XCTAssertEqual(s.learningRate(step: 500), Float(1e-5))         // past the end: stays at the floor
        // Monotone after the warm-up.
        for k in 10..<110 { XCTAssertGreaterThanOrEqual(s.learningRate(step: k), s.learningRate(step: k + 1)) }
    }

    func testNoWarmup() {
        let s = Schedule(peak: 0.1, minimum: 0, warmupSteps: 0, totalSteps: 4)
        XCTAssertEqual(s.learningRate(step: 0), 0.1)
        XCTAssertEqual(s.learningRate(step: 2), 0.05, accuracy: 1e-8)
        XCTAssertEqual(s.learningRate(step: 4), 0, accuracy: 1e-9)
    }
}
