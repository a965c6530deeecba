// The grounding report: the "kestrel-eval" JSON document (command "grounding") and its table.
import Foundation
import KestrelEngine

extension EvalReport {
    static func metrics(_ m: GroundingMetrics) -> [(String, EvalJSON)] {
        [("pointing_game", interval(m.pointing)), ("iou50_accuracy", interval(m.accuracy)), ("mean_iou", interval(m.meanIoU))]
    }

    /// The grounding report as one JSON document. `generated`: how the scenes were made when no
    /// file was given (e.g. "500 held-out scenes, seed 0, written to a temporary folder"), else nil.
    public static func json(_ run: GroundingRun, context: EvalContext, generated: String? = nil) -> EvalJSON {
        let s = run.scores
        let subsets: [EvalJSON] = s.subsets.map { sub in
            .object([("name", .string(sub.name)), ("n", .int(sub.n)), ("model", .object(metrics(sub.model))),
                     ("centre", .object(metrics(sub.centre))), ("random", .object(metrics(sub.random)))])
        }
        return .object(header("grounding", context, s.settings) + [
            ("generated", generated.map(EvalJSON.string) ?? .null),
            ("grounder", .string(run.grounder)),
            // As written (0.2), not the Float widened (0.20000000298023224).
            ("threshold", run.threshold.map { .double(Double("\($0)") ?? Double($0)) } ?? .null),
            ("default_threshold", .double(Double("\(run.defaultThreshold)") ?? Double(run.defaultThreshold))),
            ("n", .int(s.n)), ("failed", .int(run.failed.count)), ("no_box", .int(s.noBox)),
        ] + metrics(s.model) + [
            ("baselines", .object([
                ("box_size", .array([.double(s.baselineBoxWidth), .double(s.baselineBoxHeight)])),
                ("centre", .object(metrics(s.centre))),
                ("random", .object(metrics(s.random) + [("pointing_game_expected", .double(s.randomExpectedPointing))])),
            ])),
            ("differences", .object([
                ("pointing_game_minus_centre", interval(s.pointingOverCentre)), ("pointing_game_minus_random", interval(s.pointingOverRandom)),
                ("iou50_accuracy_minus_centre", interval(s.accuracyOverCentre)), ("iou50_accuracy_minus_random", interval(s.accuracyOverRandom)),
            ])),
            ("subsets", .array(subsets)),
        ])
    }

    /// The grounding report as a readable table (the same numbers as the JSON).
    public static func table(_ run: GroundingRun, context: EvalContext, generated: String? = nil) -> String {
        let s = run.scores
        var lines = intro("grounding", context, s.settings)
        if let generated { lines.append("scenes    \(generated)") }
        let threshold = run.threshold.map { "\($0)" } ?? "the grounder's default (\(run.defaultThreshold))"
        lines.append("grounder  \(run.grounder), threshold \(threshold)")
        lines.append("inputs    \(s.n) scene\(s.n == 1 ? "" : "s") measured, \(run.failed.count) failed; no box for \(s.noBox) (a miss at IoU >= 0.5)")
        lines.append(String(format: "baselines centre: the picture's centre and a centred %.1f x %.1f box (the mean target size); random: a uniform point and such a box at a uniform position (seed %llu)",
                            s.baselineBoxWidth, s.baselineBoxHeight, s.settings.seed))
        lines.append("")
        func block(_ title: String, _ n: Int, _ model: GroundingMetrics, _ centre: GroundingMetrics, _ random: GroundingMetrics) {
            lines.append("\(title) (n = \(n))")
            lines.append(pad("metric", 18) + pad("method", 8) + pad("value", 9) + "95% interval")
            for (name, pick) in [("pointing game", \GroundingMetrics.pointing), ("IoU >= 0.5 acc.", \GroundingMetrics.accuracy),
                                 ("mean IoU", \GroundingMetrics.meanIoU)] {
                for (method, m) in [("model", model), ("centre", centre), ("random", random)] {
                    let i = m[keyPath: pick]
                    lines.append(pad(method == "model" ? name : "", 18) + pad(method, 8) + pad(f4(i.value), 9) + range(i))
                }
            }
        }
        block("all scenes", s.n, s.model, s.centre, s.random)
        lines.append(pad("", 18) + "random pointing game expected: \(f4(s.randomExpectedPointing)) (mean target area / picture area)")
        lines.append("")
        lines.append("paired differences (model minus baseline)")
        for (name, i) in [("pointing - centre", s.pointingOverCentre), ("pointing - random", s.pointingOverRandom),
                          ("IoU acc. - centre", s.accuracyOverCentre), ("IoU acc. - random", s.accuracyOverRandom)] {
            lines.append(pad(name, 26) + pad(f4(i.value), 9) + range(i))
        }
        for sub in s.subsets {
            lines.append("")
            block(sub.name, sub.n, sub.model, sub.centre, sub.random)
        }
        return lines.joined(separator: "\n")
    }
}
