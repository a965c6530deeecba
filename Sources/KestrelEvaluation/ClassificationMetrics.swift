// Classification metrics over per-image class probabilities: top-k accuracy, per-class recall,
// the confusion matrix and the chance and majority baselines. Pure functions of the numbers.

/// Predictions of a C-class classifier on N images: the true class and the probability of each class.
public struct ClassPredictions: Sendable {
    /// C, the number of candidate classes.
    public let classCount: Int
    /// [N], the true class of each image, in 0..<C.
    public let truth: [Int]
    /// [N, C] row-major: the probability (or any score) of each class per image.
    public let probabilities: [Float]

    /// Throws `EvaluationError.badArgument` when the sizes disagree or a true class is out of range.
    public init(classCount: Int, truth: [Int], probabilities: [Float]) throws {
        guard classCount >= 1 else { throw EvaluationError.badArgument("classCount", "must be at least 1, got \(classCount)") }
        guard probabilities.count == truth.count * classCount else {
            throw EvaluationError.badArgument("probabilities", "has \(probabilities.count) values; \(truth.count) images x \(classCount) classes need \(truth.count * classCount)")
        }
        if let bad = truth.first(where: { !(0..<classCount).contains($0) }) {
            throw EvaluationError.badArgument("truth", "holds class \(bad), outside 0..<\(classCount)")
        }
        self.classCount = classCount; self.truth = truth; self.probabilities = probabilities
    }

    public var count: Int { truth.count }

    /// Image i's scores, [C].
    public func row(_ i: Int) -> ArraySlice<Float> { probabilities[(i * classCount)..<((i + 1) * classCount)] }

    /// Image i's score of class c, a NaN read as -infinity (a broken output never counts as right).
    func score(_ i: Int, _ c: Int) -> Float {
        let p = probabilities[i * classCount + c]
        return p.isNaN ? -.infinity : p
    }

    /// The rank (0 = best) of image i's true class: the classes scored strictly higher, plus the
    /// classes scored equally that come earlier in the label order (ties go to the earlier class,
    /// as a stable sort and `argmax` do). A NaN score ranks below every number; a NaN true
    /// score gives C (outside every top-k).
    public func trueRank(_ i: Int) -> Int {
        let t = truth[i]
        if probabilities[i * classCount + t].isNaN { return classCount }
        let p = score(i, t)
        var rank = 0
        for c in 0..<classCount {
            let q = score(i, c)
            if q > p || (q == p && c < t) { rank += 1 }
        }
        return rank
    }

    /// Image i's predicted class: the first class with the highest score (NaN scores last).
    public func predicted(_ i: Int) -> Int {
        var best = 0
        for c in 1..<max(classCount, 1) where score(i, c) > score(i, best) { best = c }
        return best
    }

    /// Image i's confidence: its highest score.
    public func confidence(_ i: Int) -> Float { probabilities[i * classCount + predicted(i)] }
}

/// Per-image facts every classification metric is computed from (so a bootstrap resample only
/// reindexes them): true class, predicted class, rank of the true class, confidence.
public struct ClassificationOutcomes: Sendable {
    public let classCount: Int
    public let truth: [Int]
    public let predicted: [Int]
    /// Rank of the true class (0 = predicted correctly); top-k correct when rank < k.
    public let trueRank: [Int]
    /// The highest probability per image.
    public let confidence: [Float]

    public init(_ p: ClassPredictions) {
        classCount = p.classCount
        truth = p.truth
        predicted = (0..<p.count).map(p.predicted)
        trueRank = (0..<p.count).map(p.trueRank)
        confidence = (0..<p.count).map(p.confidence)
    }

    public var count: Int { truth.count }
}

public enum ClassificationMetrics {
    /// Top-k accuracy over the images `indices` (default: all): the share whose true class is
    /// among the k best scored (ties to the earlier class). k >= C gives 1. NaN for no images.
    public static func topK(_ o: ClassificationOutcomes, k: Int, indices: [Int]? = nil) -> Double {
        let ix = indices ?? Array(0..<o.count)
        guard !ix.isEmpty else { return .nan }
        var hits = 0
        for i in ix where o.trueRank[i] < k { hits += 1 }
        return Double(hits) / Double(ix.count)
    }

    /// The confusion matrix, [C][C]: counts[true][predicted] over `indices` (default: all).
    public static func confusion(_ o: ClassificationOutcomes, indices: [Int]? = nil) -> [[Int]] {
        var m = [[Int]](repeating: [Int](repeating: 0, count: o.classCount), count: o.classCount)
        for i in indices ?? Array(0..<o.count) { m[o.truth[i]][o.predicted[i]] += 1 }
        return m
    }

    /// Per-class recall, [C]: of the images of class c, the share predicted c (the confusion
    /// matrix's diagonal over its row sum; "predicted c" is true-class rank 0, so a NaN row is
    /// never right). NaN for a class with no image in `indices`.
    public static func perClassRecall(_ o: ClassificationOutcomes, indices: [Int]? = nil) -> [Double] {
        var total = [Int](repeating: 0, count: o.classCount), correct = total
        for i in indices ?? Array(0..<o.count) {
            total[o.truth[i]] += 1
            if o.trueRank[i] == 0 { correct[o.truth[i]] += 1 }
        }
        return zip(correct, total).map { $1 == 0 ? .nan : Double($0) / Double($1) }
    }

    /// Mean of the per-class recalls over the classes present (balanced accuracy).
    public static func meanRecall(_ recalls: [Double]) -> Double {
        let present = recalls.filter { !$0.isNaN }
        return present.isEmpty ? .nan : present.reduce(0, +) / Double(present.count)
    }

    /// Top-1 accuracy of guessing uniformly at random: 1 / C.
    public static func chance(classCount: Int) -> Double { 1 / Double(classCount) }

    /// Top-k accuracy of guessing k distinct classes at random: min(k, C) / C.
    public static func chance(classCount: Int, k: Int) -> Double { Double(min(k, classCount)) / Double(classCount) }

    /// Top-1 accuracy of always answering the most frequent true class: its share of the images.
    public static func majority(truth: [Int], classCount: Int) -> Double {
        guard !truth.isEmpty else { return .nan }
        var counts = [Int](repeating: 0, count: classCount)
        for t in truth { counts[t] += 1 }
        return Double(counts.max() ?? 0) / Double(truth.count)
    }
}
