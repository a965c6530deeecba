import Foundation
import KestrelEvaluation
import XCTest

final class BootstrapTests: XCTestCase {
    func testPercentileInterpolatesAsNumPy() {
        // numpy.percentile([1, 2, 3, 4], 50) = 2.5; ([1..5], 2.5) = 1.1; ([1..5], 97.5) = 4.9.
        XCTAssertEqual(Bootstrap.percentile([1, 2, 3, 4], 0.5), 2.5)
        XCTAssertEqual(Bootstrap.percentile([1, 2, 3, 4, 5], 0.025), 1.1, accuracy: 1e-12)
        XCTAssertEqual(Bootstrap.percentile([1, 2, 3, 4, 5], 0.975), 4.9, accuracy: 1e-12)
        XCTAssertEqual(Bootstrap.percentile([7], 0.3), 7)
        XCTAssertTrue(Bootstrap.percentile([], 0.5).isNaN)
    }

    /// A mean of 0/1 values: the statistic the harness bootstraps most.
    func meanInterval(_ xs: [Double], _ s: BootstrapSettings) throws -> Interval {
        try Bootstrap.intervals(n: xs.count, settings: s) { ix in [ix.reduce(0) { $0 + xs[$1] } / Double(ix.count)] }[0]
    }

    func testSameSeedSameIntervalsOtherSeedOtherIntervals() throws {
        // Fixed, continuous values: with 0/1 values the interval's ends fall on a grid of 1/300 and
        // two seeds gave the same interval by chance (CI, 2026-12-01); with these they cannot.
        let xs = (0..<300).map { k in (sin(Double(k) * 12.9898) * 43758.5453).truncatingRemainder(dividingBy: 1).magnitude }
        let a = try meanInterval(xs, BootstrapSettings(resamples: 500, seed: 3))
        let b = try meanInterval(xs, BootstrapSettings(resamples: 500, seed: 3))
        let c = try meanInterval(xs, BootstrapSettings(resamples: 500, seed: 4))
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        // The resamples themselves repeat.
        var first: [[Int]] = [], second: [[Int]] = []
        Bootstrap.forEachResample(n: 50, settings: BootstrapSettings(resamples: 3, seed: 9)) { _, ix in first.append(ix) }
        Bootstrap.forEachResample(n: 50, settings: BootstrapSettings(resamples: 3, seed: 9)) { _, ix in second.append(ix) }
        XCTAssertEqual(first, second)
        XCTAssertTrue(first.joined().allSatisfy { (0..<50).contains($0) })
    }

    func testIntervalContainsTheEstimateAndHasTheBinomialWidth() throws {
        // 400 values, half ones: the mean's standard error is sqrt(0.25 / 400) = 0.025, so a 95%
        // interval is about 2 * 1.96 * 0.025 = 0.098 wide, centred on 0.5.
        let xs = (0..<400).map { Double($0 % 2) }
        let i = try meanInterval(xs, BootstrapSettings())
        XCTAssertEqual(i.value, 0.5)
        XCTAssertLessThan(i.low, i.value); XCTAssertGreaterThan(i.high, i.value)
        XCTAssertEqual(i.high - i.low, 0.098, accuracy: 0.015, "\(i)")
        XCTAssertEqual((i.high + i.low) / 2, 0.5, accuracy: 0.01, "\(i)")
    }

    func testResamplingIsUniform() {
        // Over 200 resamples of 10 units, each unit is drawn about 200 times (binomial sd ~13).
        var counts = [Int](repeating: 0, count: 10)
        Bootstrap.forEachResample(n: 10, settings: BootstrapSettings(resamples: 200, seed: 1)) { _, ix in for i in ix { counts[i] += 1 } }
        for c in counts { XCTAssertEqual(Double(c), 200, accuracy: 60, "\(counts)") }
    }

    func testUndefinedReplicatesAreLeftOutAndBadSettingsRefused() throws {
        // A statistic that is NaN on half the resamples still gets an interval from the rest.
        var flip = false
        let r = try Bootstrap.intervals(n: 5, settings: BootstrapSettings(resamples: 100, seed: 0)) { _ in flip.toggle(); return [flip ? .nan : 1] }
        XCTAssertEqual(r[0].low, 1); XCTAssertEqual(r[0].high, 1)
        XCTAssertThrowsError(try Bootstrap.intervals(n: 0, settings: BootstrapSettings()) { _ in [0] })
        XCTAssertThrowsError(try Bootstrap.intervals(n: 3, settings: BootstrapSettings(resamples: 0)) { _ in [0] })
        XCTAssertThrowsError(try Bootstrap.intervals(n: 3, settings: BootstrapSettings(level: 1)) { _ in [0] })
    }
}
