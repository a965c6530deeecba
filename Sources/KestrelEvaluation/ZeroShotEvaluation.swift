// Zero-shot classification evaluated: embed each image, classify it against the candidate labels
// (KestrelEngine's ZeroShotClassifier: prompt-ensemble class embeddings, softmax at the model's
// logit scale), then top-1, top-k, per-class recall, confusion, ECE, each with a bootstrap interval.
import Foundation
import KestrelEngine

/// The metrics of one zero-shot evaluation (pure numbers; see `ZeroShotMetrics.compute`).
public struct ZeroShotMetrics: Sendable {
    /// Images measured and candidate classes.
    public var n: Int
    public var classCount: Int
    /// k of the top-k accuracy: min(5, classes).
    public var k: Int
    public var top1: Interval
    public var topK: Interval
    /// Mean of the per-class recalls over the classes with images (balanced accuracy).
    public var meanRecall: Interval
    /// Expected calibration error over `bins.count` equal-width bins of the top probability.
    public var ece: Interval
    /// [C]; NaN value (and bounds) for a class without images.
    public var perClassRecall: [Interval]
    /// Images per true class, [C].
    public var classCounts: [Int]
    /// [C][C], rows true, columns predicted.
    public var confusion: [[Int]]
    public var bins: [CalibrationBin]
    /// Baselines: top-1 of a uniform guess (1/C), top-k of a uniform guess (k/C), top-1 of
    /// always answering the most frequent true class.
    public var chance: Double
    public var chanceTopK: Double
    public var majority: Double
    public var settings: BootstrapSettings

    /// Computes every metric from the predictions, with bootstrap percentile intervals over images
    /// (`Bootstrap.intervals`; one resample set for all metrics). Throws `EvaluationError` for no
    /// images or bad settings.
    public static func compute(_ predictions: ClassPredictions, settings: BootstrapSettings,
                               bins binCount: Int = Calibration.defaultBins) throws -> ZeroShotMetrics {
        guard binCount >= 1 else { throw EvaluationError.badArgument("bins", "must be at least 1, got \(binCount)") }
        guard predictions.count > 0 else { throw EvaluationError.nothingToEvaluate("no image could be classified") }
        let o = ClassificationOutcomes(predictions)
        let c = o.classCount, k = min(5, c)
        let correct = o.trueRank.map { $0 == 0 }
        let binOf = o.confidence.map { Calibration.bin(of: $0, bins: binCount) }
        // [top1, topK, meanRecall, ece, recall_0 ... recall_{C-1}] on a set of image indices.
        let statistic: ([Int]) -> [Double] = { ix in
            var hit1 = 0, hitK = 0
            var total = [Int](repeating: 0, count: c), right = total
            var inBin = [Int](repeating: 0, count: binCount), binHits = inBin
            var binConf = [Double](repeating: 0, count: binCount)
            for i in ix {
                let r = o.trueRank[i]
                if r == 0 { hit1 += 1 }
                if r < k { hitK += 1 }
                total[o.truth[i]] += 1
                let b = binOf[i]
                inBin[b] += 1; binConf[b] += Double(o.confidence[i])
                if correct[i] { right[o.truth[i]] += 1; binHits[b] += 1 }
            }
            let n = Double(ix.count)
            var ece = 0.0
            for b in 0..<binCount where inBin[b] > 0 {
                let m = Double(inBin[b])
                ece += m / n * abs(Double(binHits[b]) / m - binConf[b] / m)
            }
            let recalls = (0..<c).map { total[$0] == 0 ? Double.nan : Double(right[$0]) / Double(total[$0]) }
            return [Double(hit1) / n, Double(hitK) / n, ClassificationMetrics.meanRecall(recalls), ece] + recalls
        }
        let intervals = try Bootstrap.intervals(n: o.count, settings: settings, statistic: statistic)
        let calibration = Calibration.bins(confidence: o.confidence, correct: correct, bins: binCount)
        var counts = [Int](repeating: 0, count: c)
        for t in o.truth { counts[t] += 1 }
        return ZeroShotMetrics(
            n: o.count, classCount: c, k: k, top1: intervals[0], topK: intervals[1], meanRecall: intervals[2], ece: intervals[3],
            perClassRecall: Array(intervals[4...]), classCounts: counts, confusion: ClassificationMetrics.confusion(o),
            bins: calibration, chance: ClassificationMetrics.chance(classCount: c),
            chanceTopK: ClassificationMetrics.chance(classCount: c, k: k),
            majority: ClassificationMetrics.majority(truth: o.truth, classCount: c), settings: settings)
    }
}

/// An input that could not be used, with a message that names it once.
public struct FailedInput: Sendable, Equatable {
    public var path: FilePathBytes
    public var message: String

    /// The message of an image whose embedding holds NaN or infinity.
    public static let nonFiniteImage = "the model gave a non-finite embedding for this image (NaN or infinity); check the model's weights"

    /// `message` as given when it already starts with the path (the file and image layers'
    /// errors do), else "path: message".
    public init(path: FilePathBytes, error: String) {
        self.path = path
        message = error.hasPrefix(path.description) ? error : "\(path): \(error)"
    }
}

/// One zero-shot run: the candidate labels, the prompts, what failed, and the metrics.
public struct ZeroShotRun: Sendable {
    public var labels: [String]
    public var templates: [String]
    public var failed: [FailedInput]
    public var metrics: ZeroShotMetrics
}

public enum ZeroShotEvaluation {
    /// The candidate labels: `candidates` when given (each true label must be among them, else
    /// `EvaluationError.labelNotCandidate` naming the first missing one and `source`), else the
    /// true labels found, sorted. `truthSource` says where the true labels came from (a CSV's
    /// name, "the class folders"), for the message.
    /// At most this many candidate classes (the class embeddings and the confusion matrix, [C][C],
    /// grow with it).
    public static let maxClasses = 10_000

    /// `candidateSource` names where `candidates` came from (`--labels`, `--labels-file`) for the
    /// message when there are more than `maxClasses` of them.
    public static func candidateLabels(trueLabels: [String], candidates: [String]?, truthSource: String,
                                       candidateSource: String = "--labels") throws -> [String] {
        func capped(_ labels: [String], _ source: String) throws -> [String] {
            guard labels.count <= maxClasses else {
                throw EvaluationError.badArgument(source, "holds \(labels.count) classes; at most \(maxClasses) can be evaluated")
            }
            return labels
        }
        guard let candidates else { return try capped(Array(Set(trueLabels)).sorted(), truthSource) }
        _ = try capped(candidates, candidateSource)
        let set = Set(candidates)
        if let missing = trueLabels.first(where: { !set.contains($0) }) {
            throw EvaluationError.labelNotCandidate(label: missing, source: truthSource)
        }
        return candidates
    }

    /// Embeds and classifies `images` with `embedder` and measures the result. `labels`: the
    /// candidate classes (see `candidateLabels`), `templates`: the prompts (`{}` for the class
    /// name). Images that cannot be read or decoded are returned in `failed` (and left out of the
    /// metrics) and passed to `failure` as they happen; `progress(done, total)` is called after
    /// each batch. Throws
    /// `EvaluationError.nothingToEvaluate` when no image could be used, and the classifier's
    /// errors (`EngineError`) for bad labels or templates.
    public static func run(embedder: Embedder, images: [LabeledImage], labels: [String], templates: [String],
                           settings: BootstrapSettings, progress: ((Int, Int) -> Void)? = nil,
                           failure: ((FailedInput) -> Void)? = nil) throws -> ZeroShotRun {
        let classifier = try ZeroShotClassifier(embedder: embedder, labels: labels, templates: templates)
        var classIndex: [String: Int] = [:]
        for (i, l) in labels.enumerated() { classIndex[l] = i }
        var truth: [Int] = [], probabilities: [Float] = [], failed: [FailedInput] = []
        for start in stride(from: 0, to: images.count, by: embedder.batchSize) {
            let batch = Array(images[start..<min(start + embedder.batchSize, images.count)])
            for (item, result) in zip(batch, embedder.embedImages(batch.map(\.path))) {
                switch result {
                case .failure(let error):
                    failed.append(FailedInput(path: item.path, error: "\(error)")); failure?(failed.last!)
                case .success(let vector):
                    guard let t = classIndex[item.label] else {
                        throw EvaluationError.labelNotCandidate(label: item.label, source: item.path.description)
                    }
                    let p = classifier.classify(vector).probabilities
                    guard p.allSatisfy(\.isFinite) else {
                        failed.append(FailedInput(path: item.path, error: FailedInput.nonFiniteImage))
                        failure?(failed.last!)
                        continue
                    }
                    truth.append(t)
                    probabilities += p
                }
            }
            progress?(min(start + embedder.batchSize, images.count), images.count)
        }
        guard !truth.isEmpty else {
            throw EvaluationError.nothingToEvaluate("none of the \(images.count) images could be read (see the errors above)")
        }
        let predictions = try ClassPredictions(classCount: labels.count, truth: truth, probabilities: probabilities)
        return ZeroShotRun(labels: labels, templates: templates, failed: failed,
                           metrics: try ZeroShotMetrics.compute(predictions, settings: settings))
    }
}
