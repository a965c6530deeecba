// Expected calibration error and the reliability diagram's bins (Guo, Pleiss, Sun & Weinberger,
// "On Calibration of Modern Neural Networks", ICML 2017, section 2): M equal-width bins over the
// confidence (the highest softmax probability), bin m holding confidences in ((m-1)/M, m/M]
// (the first bin also holds 0);
//   ECE = sum over bins of (|B_m| / n) * |accuracy(B_m) - mean confidence(B_m)|.

/// One bin of a reliability diagram.
public struct CalibrationBin: Sendable, Equatable {
    /// The bin's confidence range, (lower, upper].
    public var lower: Double
    public var upper: Double
    /// Images whose confidence falls in the bin.
    public var count: Int
    /// Share of them predicted correctly (NaN for an empty bin).
    public var accuracy: Double
    /// Their mean confidence (NaN for an empty bin).
    public var meanConfidence: Double
}

public enum Calibration {
    /// The number of bins used by `kestrel eval` (as Guo et al.).
    public static let defaultBins = 15

    /// The bin (0..<bins) of a confidence in [0, 1]: ceil(conf * bins) - 1, clamped, so that bin
    /// m holds (m/bins, (m+1)/bins]. A NaN confidence goes to bin 0.
    public static func bin(of confidence: Float, bins: Int) -> Int {
        let c = Double(confidence)
        guard c.isFinite else { return 0 }
        return min(bins - 1, max(0, Int((c * Double(bins)).rounded(.up)) - 1))
    }

    /// The reliability diagram's bins over the images `indices` (default: all).
    /// `confidence` [N] and `correct` [N] (predicted class == true class).
    public static func bins(confidence: [Float], correct: [Bool], bins: Int = defaultBins, indices: [Int]? = nil) -> [CalibrationBin] {
        var count = [Int](repeating: 0, count: bins), hits = count
        var sum = [Double](repeating: 0, count: bins)
        for i in indices ?? Array(confidence.indices) {
            let b = bin(of: confidence[i], bins: bins)
            count[b] += 1; sum[b] += Double(confidence[i])
            if correct[i] { hits[b] += 1 }
        }
        return (0..<bins).map { b in
            CalibrationBin(lower: Double(b) / Double(bins), upper: Double(b + 1) / Double(bins), count: count[b],
                           accuracy: count[b] == 0 ? .nan : Double(hits[b]) / Double(count[b]),
                           meanConfidence: count[b] == 0 ? .nan : sum[b] / Double(count[b]))
        }
    }

    /// Expected calibration error of the bins (weights |B_m| / n; empty bins add nothing).
    /// NaN when every bin is empty.
    public static func expectedCalibrationError(_ bins: [CalibrationBin]) -> Double {
        let n = bins.reduce(0) { $0 + $1.count }
        guard n > 0 else { return .nan }
        return bins.reduce(0) { acc, b in
            b.count == 0 ? acc : acc + Double(b.count) / Double(n) * abs(b.accuracy - b.meanConfidence)
        }
    }

    /// ECE straight from per-image confidences and correctness.
    public static func expectedCalibrationError(confidence: [Float], correct: [Bool], bins: Int = defaultBins,
                                                indices: [Int]? = nil) -> Double {
        expectedCalibrationError(self.bins(confidence: confidence, correct: correct, bins: bins, indices: indices))
    }
}
