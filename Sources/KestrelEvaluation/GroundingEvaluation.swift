// Grounding evaluation (`kestrel eval grounding`): for each scene, one text query naming one
// target. Two measures, both over scenes with bootstrap percentile intervals (Bootstrap.swift):
// - pointing game (Zhang et al., "Top-down Neural Attention by Excitation Backprop", ECCV 2016):
//   a hit when the heat map's maximum, taken at its cell's centre in picture pixels, lies inside
//   the target's box;
// - IoU >= 0.5 accuracy (as referring-expression comprehension reports it, e.g. RefCOCO): a hit
//   when the best-scoring box for the query overlaps the target's box with IoU >= 0.5; no box is a miss.
// Beside them the same measures for a centre baseline and a random baseline, the mean IoU, and
// the figures per subset (distractor type, held-out shape-colour pair).
import Foundation
import KestrelEngine
import KestrelGrounding
import KestrelImage
import KestrelTraining

/// What a method answered for one scene: a point (from the heat map) and a box, either may be missing.
public struct GroundingAnswer: Sendable, Equatable {
    /// In picture pixels; nil: no point (a miss in the pointing game).
    public var x: Double?, y: Double?
    /// The best-scoring box; nil: no box (a miss at IoU >= 0.5).
    public var box: PixelBox?
    public init(x: Double? = nil, y: Double? = nil, box: PixelBox? = nil) { self.x = x; self.y = y; self.box = box }
}

/// One scene's result for one method.
public struct GroundingOutcome: Sendable, Equatable {
    public var pointHit: Bool
    public var boxHit: Bool
    /// IoU of the answered box with the target's box; 0 without a box.
    public var iou: Double
    public var hasBox: Bool

    /// Scores `answer` against `target`: the point inside or on the edge of the box, IoU >= 0.5.
    public init(_ answer: GroundingAnswer, target: PixelBox) {
        if let x = answer.x, let y = answer.y { pointHit = target.contains(x: x, y: y) } else { pointHit = false }
        hasBox = answer.box != nil
        iou = answer.box.map { $0.iou(target) } ?? 0
        boxHit = iou >= GroundingEvaluation.iouThreshold
    }
}

/// Pointing game, IoU >= 0.5 accuracy and mean IoU, each with its interval.
public struct GroundingMetrics: Sendable, Equatable {
    public var pointing: Interval
    public var accuracy: Interval
    public var meanIoU: Interval
}

/// The figures on a part of the scenes (one distractor type, or held-out pairs).
public struct GroundingSubset: Sendable {
    /// "distractors: same-shape", "target pair: held out", ...
    public var name: String
    public var n: Int
    public var model: GroundingMetrics, centre: GroundingMetrics, random: GroundingMetrics
}

/// Every figure of a grounding evaluation.
public struct GroundingScores: Sendable {
    public var n: Int
    public var settings: BootstrapSettings
    public var model: GroundingMetrics
    public var centre: GroundingMetrics
    public var random: GroundingMetrics
    /// The random point's expected pointing game: the mean over scenes of target area / picture area.
    public var randomExpectedPointing: Double
    /// Paired differences (model minus baseline, resampled together), pointing game and IoU >= 0.5 accuracy.
    public var pointingOverCentre: Interval, pointingOverRandom: Interval
    public var accuracyOverCentre: Interval, accuracyOverRandom: Interval
    /// The baselines' box: the mean target width and height, pixels.
    public var baselineBoxWidth: Double, baselineBoxHeight: Double
    /// Scenes where the model gave no box for the query (counted as misses at IoU >= 0.5).
    public var noBox: Int
    public var subsets: [GroundingSubset]
}

/// A grounding evaluation as run: the scores, the grounder, and the scenes that could not be used.
public struct GroundingRun: Sendable {
    public var scores: GroundingScores
    public var grounder: String
    /// The score threshold passed to the grounder; nil: its own default.
    public var threshold: Float?
    public var defaultThreshold: Float
    public var failed: [FailedInput]
}

public enum GroundingEvaluation {
    public static let iouThreshold = 0.5

    /// The heat map's peak in picture pixels (`HeatMap.peak`: the centre of the highest cell, NaN
    /// cells skipped, the first on ties). nil for an empty or all-NaN map.
    public static func peak(_ map: HeatMap) -> (x: Double, y: Double)? {
        map.peak.map { ($0.x, $0.y) }
    }

    /// The answer for query `query` in `result`: the point is the peak of its heat map (when the
    /// grounder gave none, the centre of the best box); the box is its best-scoring detection.
    public static func answer(_ result: GroundingResult, query: Int = 0) -> GroundingAnswer {
        let best = result.detections.filter { $0.query == query }.max { $0.score < $1.score }
        var answer = GroundingAnswer(box: best?.box)
        if query < result.heatmaps.count, let p = peak(result.heatmaps[query]) {
            answer.x = p.x; answer.y = p.y
        } else if let b = best?.box {
            answer.x = b.centre.x; answer.y = b.centre.y
        }
        return answer
    }

    /// The centre baseline: the picture's centre, and a box of `boxWidth` × `boxHeight` centred on it.
    public static func centreAnswer(_ c: GroundingCase, boxWidth: Double, boxHeight: Double) -> GroundingAnswer {
        let cx = Double(c.width) / 2, cy = Double(c.height) / 2
        return GroundingAnswer(x: cx, y: cy, box: PixelBox(x0: cx - boxWidth / 2, y0: cy - boxHeight / 2,
                                                           x1: cx + boxWidth / 2, y1: cy + boxHeight / 2).clipped(width: c.width, height: c.height))
    }

    /// The random baseline, one draw per scene from `TrainingRNG(seed:)`: a uniform point in the
    /// picture, and a `boxWidth` × `boxHeight` box (clipped to the picture) at a uniform position inside it.
    public static func randomAnswers(_ cases: [GroundingCase], boxWidth: Double, boxHeight: Double, seed: UInt64) -> [GroundingAnswer] {
        var rng = TrainingRNG(seed: seed ^ 0x7261_6E64_6F6D)   // "random": apart from the bootstrap's stream
        func unit() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
        return cases.map { c in
            let w = Double(c.width), h = Double(c.height)
            let x = unit() * w, y = unit() * h
            let bw = min(boxWidth, w), bh = min(boxHeight, h)
            let x0 = unit() * (w - bw), y0 = unit() * (h - bh)
            return GroundingAnswer(x: x, y: y, box: PixelBox(x0: x0, y0: y0, x1: x0 + bw, y1: y0 + bh))
        }
    }

    /// The figures from per-scene outcomes of the model (`model`, one per case, in order) and the
    /// baselines computed here (box: the mean target size of `cases`; random: `settings.seed`).
    /// Bootstrap: scenes resampled, all methods together (so the differences are paired).
    /// Throws `EvaluationError` when `cases` is empty or the counts differ.
    public static func score(cases: [GroundingCase], model: [GroundingAnswer], settings: BootstrapSettings) throws -> GroundingScores {
        guard !cases.isEmpty else { throw EvaluationError.nothingToEvaluate("no scene could be grounded") }
        guard model.count == cases.count else {
            throw EvaluationError.badArgument("answers", "must be one per scene: \(model.count) answers for \(cases.count) scenes")
        }
        let n = Double(cases.count)
        let bw = cases.map(\.target.width).reduce(0, +) / n, bh = cases.map(\.target.height).reduce(0, +) / n
        let centre = cases.map { centreAnswer($0, boxWidth: bw, boxHeight: bh) }
        let random = randomAnswers(cases, boxWidth: bw, boxHeight: bh, seed: settings.seed)
        let outcomes = [model, centre, random].map { answers in zip(answers, cases).map { GroundingOutcome($0, target: $1.target) } }
        let all = try metrics(outcomes, indices: Array(cases.indices), settings: settings)
        var subsets: [GroundingSubset] = []
        func subset(_ name: String, _ keep: (GroundingCase) -> Bool) throws {
            let idx = cases.indices.filter { keep(cases[$0]) }
            guard !idx.isEmpty else { return }
            let m = try metrics(outcomes, indices: idx, settings: settings)
            subsets.append(GroundingSubset(name: name, n: idx.count, model: m.methods[0], centre: m.methods[1], random: m.methods[2]))
        }
        for kind in Array(Set(cases.compactMap(\.distractors))).sorted() { try subset("distractors: \(kind)") { $0.distractors == kind } }
        if cases.contains(where: { $0.heldOutCombination != nil }) {
            try subset("target pair: held out of training") { $0.heldOutCombination == true }
            try subset("target pair: seen in training") { $0.heldOutCombination == false }
        }
        let expected = cases.map { $0.target.clipped(width: $0.width, height: $0.height).area / (Double($0.width) * Double($0.height)) }.reduce(0, +) / n
        return GroundingScores(n: cases.count, settings: settings, model: all.methods[0], centre: all.methods[1], random: all.methods[2],
                               randomExpectedPointing: expected,
                               pointingOverCentre: all.differences[0], pointingOverRandom: all.differences[1],
                               accuracyOverCentre: all.differences[2], accuracyOverRandom: all.differences[3],
                               baselineBoxWidth: bw, baselineBoxHeight: bh,
                               noBox: outcomes[0].filter { !$0.hasBox }.count, subsets: subsets)
    }

    /// Metrics of the three methods over the scenes `indices` (resampled among themselves), and
    /// the model's paired differences from the centre and random baselines.
    static func metrics(_ outcomes: [[GroundingOutcome]], indices: [Int], settings: BootstrapSettings) throws
        -> (methods: [GroundingMetrics], differences: [Interval]) {
        let rows = outcomes.map { o in indices.map { o[$0] } }
        let intervals = try Bootstrap.intervals(n: indices.count, settings: settings) { sample in
            let k = Double(sample.count)
            var values: [Double] = []
            var point = [Double](), acc = [Double]()
            for r in rows {
                var p = 0.0, a = 0.0, iou = 0.0
                for s in sample { let o = r[s]; p += o.pointHit ? 1 : 0; a += o.boxHit ? 1 : 0; iou += o.iou }
                values += [p / k, a / k, iou / k]
                point.append(p / k); acc.append(a / k)
            }
            return values + [point[0] - point[1], point[0] - point[2], acc[0] - acc[1], acc[0] - acc[2]]
        }
        let methods = (0..<rows.count).map { m in
            GroundingMetrics(pointing: intervals[3 * m], accuracy: intervals[3 * m + 1], meanIoU: intervals[3 * m + 2])
        }
        return (methods, Array(intervals[(3 * rows.count)...]))
    }

    /// Grounds every scene's query with `grounder` (`GroundingOptions(threshold:, heatmaps: true)`)
    /// and scores the answers (`score`). A scene whose picture cannot be read or decoded, whose
    /// size differs from the recorded one, or that the grounder fails on, is reported to
    /// `failure` and left out; `GroundingError.unsupportedModel` (the grounder cannot run at all)
    /// is thrown. `progress(done, total)` after each scene.
    public static func run(grounder: any Grounder, cases: [GroundingCase], threshold: Float? = nil,
                           settings: BootstrapSettings = BootstrapSettings(), decoder: ImageDecoder = ImageDecoder(),
                           progress: ((Int, Int) -> Void)? = nil, failure: ((FailedInput) -> Void)? = nil) throws -> GroundingRun {
        var measured: [GroundingCase] = [], answers: [GroundingAnswer] = [], failed: [FailedInput] = []
        let options = GroundingOptions(threshold: threshold, heatmaps: true)
        for (k, c) in cases.enumerated() {
            do {
                let image = try decoder.decode(path: c.path)
                guard image.width == c.width && image.height == c.height else {
                    throw EvaluationError.badInput("the picture is \(image.width)x\(image.height) but its grounding file says \(c.width)x\(c.height)")
                }
                let result = try grounder.ground(image, queries: [.text(c.query)], options: options)
                measured.append(c); answers.append(answer(result))
            } catch let e as GroundingError {
                if case .unsupportedModel = e { throw e }
                failed.append(FailedInput(path: c.path, error: "\(e)")); failure?(failed.last!)
            } catch {
                failed.append(FailedInput(path: c.path, error: "\(error)")); failure?(failed.last!)
            }
            progress?(k + 1, cases.count)
        }
        return GroundingRun(scores: try score(cases: measured, model: answers, settings: settings), grounder: grounder.kind,
                            threshold: threshold, defaultThreshold: grounder.defaultThreshold, failed: failed)
    }
}
