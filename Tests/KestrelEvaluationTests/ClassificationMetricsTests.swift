import KestrelEvaluation
import XCTest

/// Top-k, confusion, per-class recall, baselines and ECE on a constructed example whose values
/// are worked out by hand in the comments.
final class ClassificationMetricsTests: XCTestCase {
    // 6 images, 3 classes. Per image: truth, probabilities -> predicted, rank of truth, confidence.
    //   0: t0 [0.70 0.20 0.10] -> p0 rank0 0.70 right
    //   1: t0 [0.30 0.62 0.08] -> p1 rank1 0.62 wrong
    //   2: t1 [0.05 0.85 0.10] -> p1 rank0 0.85 right
    //   3: t1 [0.52 0.40 0.08] -> p0 rank1 0.52 wrong
    //   4: t2 [0.20 0.25 0.55] -> p2 rank0 0.55 right
    //   5: t2 [0.45 0.45 0.10] -> p0 (tie: the earlier class) rank2 0.45 wrong
    func example() throws -> ClassPredictions {
        try ClassPredictions(classCount: 3, truth: [0, 0, 1, 1, 2, 2], probabilities: [
            0.70, 0.20, 0.10, 0.30, 0.62, 0.08, 0.05, 0.85, 0.10,
            0.52, 0.40, 0.08, 0.20, 0.25, 0.55, 0.45, 0.45, 0.10,
        ])
    }

    func testTopKConfusionAndRecallByHand() throws {
        let o = ClassificationOutcomes(try example())
        XCTAssertEqual(o.predicted, [0, 1, 1, 0, 2, 0])
        XCTAssertEqual(o.trueRank, [0, 1, 0, 1, 0, 2])
        XCTAssertEqual(ClassificationMetrics.topK(o, k: 1), 3.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(ClassificationMetrics.topK(o, k: 2), 5.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(ClassificationMetrics.topK(o, k: 3), 1, accuracy: 1e-12)
        XCTAssertEqual(ClassificationMetrics.confusion(o), [[1, 1, 0], [1, 1, 0], [1, 0, 1]])
        XCTAssertEqual(ClassificationMetrics.perClassRecall(o), [0.5, 0.5, 0.5])
        // On a subset (images 0, 0, 2, 4): recall of class 0 = 2/2, class 1 = 1/1, class 2 = 1/1.
        XCTAssertEqual(ClassificationMetrics.perClassRecall(o, indices: [0, 0, 2, 4]), [1, 1, 1])
        XCTAssertTrue(ClassificationMetrics.perClassRecall(o, indices: [0, 1])[2].isNaN, "a class with no image has no recall")
    }

    func testBaselines() {
        XCTAssertEqual(ClassificationMetrics.chance(classCount: 4), 0.25)
        XCTAssertEqual(ClassificationMetrics.chance(classCount: 10, k: 5), 0.5)
        XCTAssertEqual(ClassificationMetrics.chance(classCount: 3, k: 5), 1)
        XCTAssertEqual(ClassificationMetrics.majority(truth: [0, 0, 0, 1], classCount: 3), 0.75)
    }

    func testExpectedCalibrationErrorByHand() throws {
        let o = ClassificationOutcomes(try example())
        // Confidences 0.70 0.62 0.85 0.52 0.55 0.45 fall in bins 10, 9, 12, 7, 8, 6 (ceil(15c) - 1),
        // one image each: ECE = (0.30 + 0.62 + 0.15 + 0.52 + 0.45 + 0.45) / 6 = 0.415.
        XCTAssertEqual(o.confidence.map { Calibration.bin(of: $0, bins: 15) }, [10, 9, 12, 7, 8, 6])
        let correct = (0..<6).map { o.predicted[$0] == o.truth[$0] }
        XCTAssertEqual(Calibration.expectedCalibrationError(confidence: o.confidence, correct: correct), 0.415, accuracy: 1e-6)
        // Two images in one bin: 0.71 right and 0.72 wrong share bin 10 (accuracy 0.5, mean
        // confidence 0.715), 0.95 right is alone in bin 14:
        // ECE = 2/3 * |0.5 - 0.715| + 1/3 * |1 - 0.95| = 0.16.
        let bins = Calibration.bins(confidence: [0.71, 0.72, 0.95], correct: [true, false, true])
        XCTAssertEqual(bins.count, 15)
        XCTAssertEqual(bins[10].count, 2)
        XCTAssertEqual(bins[10].accuracy, 0.5)
        XCTAssertEqual(bins[10].meanConfidence, 0.715, accuracy: 1e-6)
        XCTAssertEqual(Calibration.expectedCalibrationError(bins), 0.16, accuracy: 1e-6)
        // Bin edges: (m/15, (m+1)/15]; 1 is in the last bin, 0 in the first.
        XCTAssertEqual(Calibration.bin(of: 1, bins: 15), 14)
        XCTAssertEqual(Calibration.bin(of: 0, bins: 15), 0)
        XCTAssertEqual(Calibration.bin(of: 0.5, bins: 2), 0)
        XCTAssertEqual(Calibration.bin(of: 0.51, bins: 2), 1)
    }

    func testMetricsWithIntervals() throws {
        let m = try ZeroShotMetrics.compute(try example(), settings: BootstrapSettings(resamples: 300, seed: 7))
        XCTAssertEqual(m.k, 3)
        XCTAssertEqual(m.top1.value, 0.5, accuracy: 1e-12)
        XCTAssertEqual(m.topK.value, 1, accuracy: 1e-12)
        XCTAssertEqual(m.ece.value, 0.415, accuracy: 1e-6)
        XCTAssertEqual(m.perClassRecall.map(\.value), [0.5, 0.5, 0.5])
        XCTAssertEqual(m.classCounts, [2, 2, 2])
        XCTAssertEqual(m.majority, 1.0 / 3, accuracy: 1e-12)
        for i in [m.top1, m.topK, m.ece, m.meanRecall] + m.perClassRecall {
            XCTAssertLessThanOrEqual(i.low, i.value + 1e-12, "\(i)"); XCTAssertGreaterThanOrEqual(i.high, i.value - 1e-12, "\(i)")
        }
        XCTAssertLessThan(m.top1.low, m.top1.high, "six images leave a wide interval")
    }

    func testBadPredictionsAreErrorsNotCrashes() {
        XCTAssertThrowsError(try ClassPredictions(classCount: 3, truth: [0, 1], probabilities: [0.5, 0.5]))
        XCTAssertThrowsError(try ClassPredictions(classCount: 2, truth: [0, 2], probabilities: [0.5, 0.5, 0.5, 0.5]))
        XCTAssertThrowsError(try ZeroShotMetrics.compute(try ClassPredictions(classCount: 2, truth: [], probabilities: []),
                                                         settings: BootstrapSettings()))
    }
}

final class NaNScoreTests: XCTestCase {
    /// A broken output (NaN) never counts as a right answer, at any k below C + 1.
    func testNaNScoresAreNeverRight() throws {
        let p = try ClassPredictions(classCount: 3, truth: [0, 1, 2], probabilities: [
            .nan, .nan, .nan,      // all NaN: truth 0 is not "predicted" by default
            0.2, .nan, 0.3,        // the true class NaN: last
            .nan, 0.6, 0.4,        // another class NaN: ranks below the numbers
        ])
        let o = ClassificationOutcomes(p)
        XCTAssertEqual(o.trueRank, [3, 3, 1])
        XCTAssertEqual(o.predicted[2], 1)
        XCTAssertEqual(ClassificationMetrics.topK(o, k: 1), 0)
        XCTAssertEqual(ClassificationMetrics.topK(o, k: 3), 1.0 / 3, accuracy: 1e-12, "only the finite true score is in the top 3")
        XCTAssertEqual(ClassificationMetrics.perClassRecall(o), [0, 0, 0], "the all-NaN row is not a right answer for class 0")
    }
}

/// The bootstrap's one-pass statistic (ZeroShotMetrics) against the pure functions it fuses, on
/// random predictions with ties and several classes.
final class FusedStatisticTests: XCTestCase {
    func testOnePassAgreesWithThePureFunctions() throws {
        var rng = SystemRandomNumberGenerator()
        for (n, c) in [(1, 1), (7, 2), (300, 6), (513, 11)] {
            let truth = (0..<n).map { _ in Int.random(in: 0..<c, using: &rng) }
            // Scores in steps of 0.125 so that ties happen.
            var probs = (0..<(n * c)).map { _ in Float(Int.random(in: 0...8, using: &rng)) / 8 }
            for i in 0..<n {
                let s = probs[(i * c)..<((i + 1) * c)].reduce(0, +)
                for j in 0..<c { probs[i * c + j] = s == 0 ? 1 / Float(c) : probs[i * c + j] / s }
            }
            let p = try ClassPredictions(classCount: c, truth: truth, probabilities: probs)
            let o = ClassificationOutcomes(p)
            let m = try ZeroShotMetrics.compute(p, settings: BootstrapSettings(resamples: 5, seed: 1))
            XCTAssertEqual(m.top1.value, ClassificationMetrics.topK(o, k: 1), accuracy: 1e-12)
            XCTAssertEqual(m.topK.value, ClassificationMetrics.topK(o, k: min(5, c)), accuracy: 1e-12)
            let correct = (0..<n).map { o.predicted[$0] == o.truth[$0] }
            XCTAssertEqual(m.ece.value, Calibration.expectedCalibrationError(confidence: o.confidence, correct: correct), accuracy: 1e-9)
            let recalls = ClassificationMetrics.perClassRecall(o)
            for (a, b) in zip(m.perClassRecall.map(\.value), recalls) { XCTAssertTrue(a == b || (a.isNaN && b.isNaN), "\(a) vs \(b)") }
            XCTAssertEqual(m.confusion, ClassificationMetrics.confusion(o))
            // top-1 is the confusion matrix's trace over n.
            XCTAssertEqual(m.top1.value, Double((0..<c).reduce(0) { $0 + m.confusion[$1][$1] }) / Double(n), accuracy: 1e-12)
        }
    }
}
