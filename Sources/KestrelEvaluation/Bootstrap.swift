// Bootstrap percentile intervals (Efron & Tibshirani, "An Introduction to the Bootstrap", 1993,
// ch. 13): resample the n evaluation units (images, or queries) with replacement, recompute each
// statistic on every resample, and take the 2.5th and 97.5th percentiles of the replicates.
import KestrelTraining

/// A measured value with its bootstrap interval (`low`...`high`, by default 95%).
public struct Interval: Sendable, Equatable, CustomStringConvertible {
    /// The statistic on the full sample (not the mean of the replicates).
    public var value: Double
    public var low: Double
    public var high: Double

    public init(value: Double, low: Double, high: Double) { self.value = value; self.low = low; self.high = high }

    /// "0.8123 [0.8021, 0.8219]".
    public var description: String { "\(Interval.format(value)) [\(Interval.format(low)), \(Interval.format(high))]" }

    static func format(_ x: Double) -> String {
        x.isFinite ? String(format: "%.4f", x) : "n/a"
    }
}

/// The bootstrap's settings: how many resamples, from which seed, at what confidence.
public struct BootstrapSettings: Sendable, Equatable {
    /// Resamples drawn (at least 1; 1,000 by default).
    public var resamples: Int
    /// Seeds `TrainingRNG` (xoshiro256**); the same seed gives the same resamples and intervals.
    public var seed: UInt64
    /// Two-sided coverage of the percentile interval, in (0, 1); 0.95 by default.
    public var level: Double

    public init(resamples: Int = 1000, seed: UInt64 = 0, level: Double = 0.95) {
        self.resamples = resamples; self.seed = seed; self.level = level
    }
}

/// Errors of the evaluation harness's pure functions: a bad argument, named.
public enum EvaluationError: Error, Equatable, Sendable, CustomStringConvertible {
    case badArgument(String, String)
    /// A true label that is not among the candidate labels (`--labels`).
    case labelNotCandidate(label: String, source: String)
    /// No image (or no caption) could be used: there is nothing to measure.
    case nothingToEvaluate(String)
    /// An input file (CSV, folder) that cannot be read or parsed; the message names it and the line.
    case badInput(String)

    public var description: String {
        switch self {
        case .badArgument(let name, let reason): return "\(name) \(reason)"
        case .labelNotCandidate(let label, let source):
            return "the true label \"\(label)\" (from \(source)) is not among the candidate labels; add it to --labels (or --labels-file), or leave them out to use the classes found"
        case .nothingToEvaluate(let what): return "nothing to evaluate: \(what)"
        case .badInput(let message): return message
        }
    }
}

public enum Bootstrap {
    /// The resamples themselves: `settings.resamples` arrays of `n` indices in 0..<n, drawn
    /// uniformly with replacement from `TrainingRNG(seed:)`. Deterministic in (n, settings).
    /// Each index is the high word of a 64x64-bit product (Lemire's multiply-shift; bias below
    /// n / 2^64). Calls `body(r, indices)` for r in 0..<resamples, reusing one buffer.
    public static func forEachResample(n: Int, settings: BootstrapSettings, _ body: (Int, [Int]) -> Void) {
        var rng = TrainingRNG(seed: settings.seed)
        var indices = [Int](repeating: 0, count: n)
        for r in 0..<settings.resamples {
            for i in 0..<n { indices[i] = Int(UInt64(n).multipliedFullWidth(by: rng.next()).high) }
            body(r, indices)
        }
    }

    /// Percentile intervals for a vector of statistics. `statistic(indices)` returns m values
    /// computed on the units `indices` (the full sample is `Array(0..<n)`); a value may be NaN
    /// where it is undefined on a resample (a class with no image drawn): such replicates are left
    /// out of that statistic's percentiles. Returns m intervals; an interval whose replicates are
    /// all NaN has NaN bounds. Throws `EvaluationError.badArgument` for n < 1, resamples < 1 or a
    /// level outside (0, 1).
    public static func intervals(n: Int, settings: BootstrapSettings,
                                 statistic: ([Int]) -> [Double]) throws -> [Interval] {
        guard n >= 1 else { throw EvaluationError.badArgument("bootstrap", "needs at least one unit, got \(n)") }
        guard settings.resamples >= 1 else { throw EvaluationError.badArgument("--resamples", "must be at least 1, got \(settings.resamples)") }
        guard settings.level > 0 && settings.level < 1 else { throw EvaluationError.badArgument("level", "must be in (0, 1), got \(settings.level)") }
        let point = statistic(Array(0..<n))
        var replicates = [[Double]](repeating: [], count: point.count)   // [m][R]
        for k in replicates.indices { replicates[k].reserveCapacity(settings.resamples) }
        forEachResample(n: n, settings: settings) { _, indices in
            let values = statistic(indices)
            for (k, v) in values.enumerated() where k < point.count && !v.isNaN { replicates[k].append(v) }
        }
        let alpha = (1 - settings.level) / 2
        return point.indices.map { k in
            let sorted = replicates[k].sorted()
            return Interval(value: point[k], low: percentile(sorted, alpha), high: percentile(sorted, 1 - alpha))
        }
    }

    /// The q-quantile (q in [0, 1]) of ascending `sorted` values by linear interpolation between
    /// the closest ranks (NumPy's default `percentile(method="linear")`: position q * (n - 1)).
    /// NaN for an empty array.
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let position = q * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down)), upper = min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }
}
