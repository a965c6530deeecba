import Foundation
import KestrelEngine
@testable import KestrelEvaluation
import KestrelGrounding
import KestrelImage
import KestrelTestSupport
import KestrelTraining
import XCTest

/// Fake grounders, each answering from the scene list it is given (scenes are grounded in order).
final class SceneGrounder: Grounder, @unchecked Sendable {
    let kind = "fake"
    let defaultThreshold: Float = 0
    let answer: (Int) -> GroundingResult
    let lock = NSLock()
    var calls = 0
    var queries: [String] = []
    init(_ answer: @escaping (Int) -> GroundingResult) { self.answer = answer }
    func ground(_ image: DecodedImage, queries q: [GroundingQuery], options: GroundingOptions) throws -> GroundingResult {
        lock.lock(); defer { lock.unlock() }
        XCTAssertTrue(options.heatmaps, "the evaluation asks for heat maps")
        XCTAssertEqual(q.count, 1)
        queries.append(q.first?.label ?? "")
        calls += 1
        return answer(calls - 1)
    }
}

/// Pointing game and IoU >= 0.5 accuracy: an oracle scores 1, a grounder answering the centre
/// equals the centre baseline, one answering a distractor scores 0; intervals, determinism,
/// the heat map's peak, and the grounding file's errors.
final class GroundingEvaluationTests: XCTestCase {
    static let count = 40
    static let folder: URL = {
        let dir = Fixtures.temporaryDirectory("grounding-eval")
        try? GroundingScenes.write(to: dir, count: count, seed: 11)
        return dir
    }()
    static let scenes = (0..<count).map { GroundingScenes.generate(index: $0, seed: 11) }

    func cases() throws -> [GroundingCase] {
        try GroundingData.load(FilePathBytes(Self.folder.appendingPathComponent("grounding.jsonl").path))
    }

    func box(_ b: [Double]) -> PixelBox { PixelBox(x0: b[0], y0: b[1], x1: b[2], y1: b[3]) }

    /// A 14×14 map over the picture: 1 in cells whose centre lies in `b`, 0 elsewhere.
    func peaked(at b: PixelBox) -> HeatMap {
        var v = [Float](repeating: 0, count: 14 * 14)
        for i in 0..<14 { for j in 0..<14 where b.contains(x: (Double(j) + 0.5) * 16, y: (Double(i) + 0.5) * 16) { v[i * 14 + j] = 1 } }
        return HeatMap(gridWidth: 14, gridHeight: 14, values: v, region: PixelBox(x0: 0, y0: 0, x1: 224, y1: 224))
    }

    func testAnOracleScoresOne() throws {
        let oracle = SceneGrounder { i in
            let t = self.box(Self.scenes[i].targetBox)
            return GroundingResult(detections: [Detection(query: 0, box: PixelBox(x0: 0, y0: 0, x1: 224, y1: 224), score: 0.2),
                                                Detection(query: 0, box: t, score: 0.9)],
                                   heatmaps: [self.peaked(at: t)])
        }
        let run = try GroundingEvaluation.run(grounder: oracle, cases: try cases(), settings: BootstrapSettings(resamples: 200, seed: 1))
        XCTAssertEqual(oracle.queries, Self.scenes.map(\.query), "each scene's own query")
        let s = run.scores
        XCTAssertEqual(s.n, Self.count)
        XCTAssertTrue(run.failed.isEmpty)
        XCTAssertEqual(s.model.pointing.value, 1)
        XCTAssertEqual(s.model.accuracy.value, 1)
        XCTAssertEqual(s.model.meanIoU.value, 1, accuracy: 1e-4, "boxes round-trip through the file to 0.001 px")
        XCTAssertEqual(s.model.pointing.low, 1, "every resample scores 1")
        XCTAssertEqual(s.noBox, 0)
        XCTAssertLessThan(s.random.pointing.value, 0.5)
        XCTAssertGreaterThan(s.pointingOverRandom.low, 0)
        let kinds = s.subsets.filter { $0.name.hasPrefix("distractors: ") }
        XCTAssertEqual(kinds.map(\.n).reduce(0, +), Self.count, "distractor subsets partition the scenes")
        XCTAssertEqual(s.subsets.filter { $0.name.hasPrefix("target pair: ") }.map(\.n).reduce(0, +), Self.count)
        for sub in s.subsets { XCTAssertEqual(sub.model.pointing.value, 1, sub.name) }
    }

    func testAGrounderAnsweringTheCentreEqualsTheCentreBaseline() throws {
        let cs = try cases()
        let n = Double(cs.count)
        let w = cs.map(\.target.width).reduce(0, +) / n, h = cs.map(\.target.height).reduce(0, +) / n
        let centre = SceneGrounder { _ in
            GroundingResult(detections: [Detection(query: 0, box: PixelBox(x0: 112 - w / 2, y0: 112 - h / 2, x1: 112 + w / 2, y1: 112 + h / 2), score: 1)],
                            heatmaps: [HeatMap(gridWidth: 1, gridHeight: 1, values: [3], region: PixelBox(x0: 0, y0: 0, x1: 224, y1: 224))])
        }
        let s = try GroundingEvaluation.run(grounder: centre, cases: cs, settings: BootstrapSettings(resamples: 300, seed: 4)).scores
        XCTAssertEqual(s.baselineBoxWidth, w, accuracy: 1e-9)
        XCTAssertEqual(s.model, s.centre, "same answers, same figures and intervals")
        XCTAssertEqual(s.pointingOverCentre, Interval(value: 0, low: 0, high: 0))
        // The centre point hits exactly the scenes whose target box holds (112, 112).
        let expected = Double(cs.filter { $0.target.contains(x: 112, y: 112) }.count) / n
        XCTAssertEqual(s.centre.pointing.value, expected, accuracy: 1e-12)
        // A uniform random point hits a target with probability its area over the picture's.
        let areaShare = cs.map { $0.target.area / (224 * 224) }.reduce(0, +) / n
        XCTAssertEqual(s.randomExpectedPointing, areaShare, accuracy: 1e-12)
        XCTAssertLessThan(s.randomExpectedPointing, 1)
    }

    func testAGrounderAnsweringADistractorScoresZero() throws {
        let wrong = SceneGrounder { i in
            let scene = Self.scenes[i]
            let other = self.box(scene.objects[(scene.target + 1) % scene.objects.count].box)
            return GroundingResult(detections: [Detection(query: 0, box: other, score: 1)], heatmaps: [self.peaked(at: other)])
        }
        let s = try GroundingEvaluation.run(grounder: wrong, cases: try cases(), settings: BootstrapSettings(resamples: 100)).scores
        XCTAssertEqual(s.model.pointing.value, 0)
        XCTAssertEqual(s.model.accuracy.value, 0)
        XCTAssertEqual(s.model.meanIoU.value, 0, "objects never overlap")
        XCTAssertLessThan(s.pointingOverRandom.high, 0.2)
    }

    func testNoBoxIsAMissAndAMissingHeatMapFallsBackToTheBestBox() throws {
        let cs = try cases()
        let none = SceneGrounder { _ in GroundingResult(detections: [], heatmaps: []) }
        let s = try GroundingEvaluation.run(grounder: none, cases: cs, settings: BootstrapSettings(resamples: 20)).scores
        XCTAssertEqual(s.noBox, cs.count)
        XCTAssertEqual([s.model.pointing.value, s.model.accuracy.value, s.model.meanIoU.value], [0, 0, 0])
        // Boxes only: the point is the best box's centre.
        let boxes = SceneGrounder { i in
            GroundingResult(detections: [Detection(query: 0, box: self.box(Self.scenes[i].targetBox), score: 1)], heatmaps: [])
        }
        XCTAssertEqual(try GroundingEvaluation.run(grounder: boxes, cases: cs, settings: BootstrapSettings(resamples: 20)).scores.model.pointing.value, 1)
    }

    func testIntervalsHoldTheEstimateAndTheSeedFixesEverything() throws {
        let cs = try cases()
        // A grounder right on even scenes, wrong on odd ones.
        func half() -> SceneGrounder {
            SceneGrounder { i in
                let scene = Self.scenes[i]
                let b = self.box(scene.objects[i % 2 == 0 ? scene.target : (scene.target + 1) % scene.objects.count].box)
                return GroundingResult(detections: [Detection(query: 0, box: b, score: 1)], heatmaps: [self.peaked(at: b)])
            }
        }
        let a = try GroundingEvaluation.run(grounder: half(), cases: cs, settings: BootstrapSettings(resamples: 400, seed: 9)).scores
        let b = try GroundingEvaluation.run(grounder: half(), cases: cs, settings: BootstrapSettings(resamples: 400, seed: 9)).scores
        XCTAssertEqual(a.model.pointing.value, 0.5)
        for i in [a.model.pointing, a.model.accuracy, a.model.meanIoU, a.centre.pointing, a.centre.accuracy, a.random.pointing,
                  a.random.accuracy, a.random.meanIoU, a.pointingOverCentre, a.pointingOverRandom, a.accuracyOverCentre, a.accuracyOverRandom] {
            XCTAssertTrue(i.low <= i.value && i.value <= i.high, "\(i)")
        }
        XCTAssertLessThan(a.model.pointing.low, 0.5)
        XCTAssertGreaterThan(a.model.pointing.high, 0.5)
        XCTAssertEqual(a.model, b.model)
        XCTAssertEqual(a.random, b.random, "the random baseline is seeded")
        XCTAssertEqual(a.pointingOverRandom, b.pointingOverRandom)
        let c = try GroundingEvaluation.run(grounder: half(), cases: cs, settings: BootstrapSettings(resamples: 400, seed: 10)).scores
        XCTAssertEqual(c.model.pointing.value, a.model.pointing.value)
        XCTAssertNotEqual([c.model, c.random], [a.model, a.random], "another seed, other resamples and random answers")
        XCTAssertNotEqual(GroundingEvaluation.randomAnswers(cs, boxWidth: 40, boxHeight: 40, seed: 9),
                          GroundingEvaluation.randomAnswers(cs, boxWidth: 40, boxHeight: 40, seed: 10))
        for r in GroundingEvaluation.randomAnswers(cs, boxWidth: 40, boxHeight: 30, seed: 1) {
            let bx = try XCTUnwrap(r.box)
            XCTAssertTrue(bx.x0 >= 0 && bx.y0 >= 0 && bx.x1 <= 224 && bx.y1 <= 224)
            XCTAssertEqual(bx.width, 40, accuracy: 1e-9); XCTAssertEqual(bx.height, 30, accuracy: 1e-9)
            XCTAssertTrue((0..<224).contains(r.x ?? -1) && (0..<224).contains(r.y ?? -1))
        }
    }

    func testThePeakIsTheCentreOfTheHighestCellInTheMapsRegion() throws {
        // A 4×2 grid over x 10...50, y 100...120 (cells 10×10); the highest is row 1, column 2.
        let map = HeatMap(gridWidth: 4, gridHeight: 2, values: [0, 1, 2, 3, 4, 5, 9, .nan], region: PixelBox(x0: 10, y0: 100, x1: 50, y1: 120))
        let p = try XCTUnwrap(GroundingEvaluation.peak(map))
        XCTAssertEqual(p.x, 35); XCTAssertEqual(p.y, 115)
        // Ties: the first cell in row-major order. A region reaching past the picture (a padded input) maps the same way.
        let tie = HeatMap(gridWidth: 2, gridHeight: 2, values: [1, 5, 5, 0], region: PixelBox(x0: 0, y0: 0, x1: 300, y1: 300))
        XCTAssertEqual(GroundingEvaluation.peak(tie).map { [$0.x, $0.y] }, [225, 75])
        XCTAssertNil(GroundingEvaluation.peak(HeatMap(gridWidth: 1, gridHeight: 1, values: [.nan], region: map.region)))
        XCTAssertNil(GroundingEvaluation.peak(HeatMap(gridWidth: 2, gridHeight: 1, values: [1], region: map.region)), "a map of the wrong size")
        // The answer takes the best box of its own query.
        let r = GroundingResult(detections: [Detection(query: 1, box: PixelBox(x0: 0, y0: 0, x1: 1, y1: 1), score: 9),
                                             Detection(query: 0, box: PixelBox(x0: 0, y0: 0, x1: 2, y1: 2), score: 0.1),
                                             Detection(query: 0, box: PixelBox(x0: 5, y0: 5, x1: 9, y1: 9), score: 0.7)], heatmaps: [map])
        let a = GroundingEvaluation.answer(r)
        XCTAssertEqual(a.box, PixelBox(x0: 5, y0: 5, x1: 9, y1: 9))
        XCTAssertEqual(a.x, 35); XCTAssertEqual(a.y, 115)
        // Hits: on the edge counts; IoU exactly 0.5 counts.
        let target = PixelBox(x0: 0, y0: 0, x1: 10, y1: 10)
        XCTAssertTrue(GroundingOutcome(GroundingAnswer(x: 10, y: 0, box: nil), target: target).pointHit)
        let o = GroundingOutcome(GroundingAnswer(x: 10.01, y: 0, box: PixelBox(x0: 0, y0: 0, x1: 10, y1: 5)), target: target)
        XCTAssertFalse(o.pointHit); XCTAssertTrue(o.boxHit); XCTAssertEqual(o.iou, 0.5)
    }

    func testAModelThatCannotGroundStopsTheRun() throws {
        final class Refusing: Grounder, @unchecked Sendable {
            let kind = "refusing"; let defaultThreshold: Float = 0
            func ground(_ image: DecodedImage, queries: [GroundingQuery], options: GroundingOptions) throws -> GroundingResult {
                throw GroundingError.unsupportedModel(folder: "/m", reason: "no")
            }
        }
        XCTAssertThrowsError(try GroundingEvaluation.run(grounder: Refusing(), cases: try cases())) { e in
            XCTAssertTrue("\(e)".contains("cannot ground"), "\(e)")
        }
    }

    func testAPictureThatCannotBeUsedIsReportedAndLeftOut() throws {
        var cs = try cases()
        cs[0].path = FilePathBytes(Self.folder.appendingPathComponent("missing.png").path)
        cs[1].width = 300
        var messages: [String] = []
        let oracle = SceneGrounder { _ in GroundingResult(detections: [], heatmaps: []) }
        let run = try GroundingEvaluation.run(grounder: oracle, cases: cs, settings: BootstrapSettings(resamples: 10), failure: { messages.append($0.message) })
        XCTAssertEqual(run.failed.count, 2)
        XCTAssertEqual(run.scores.n, cs.count - 2)
        XCTAssertTrue(messages[0].contains("missing.png"), messages[0])
        XCTAssertTrue(messages[1].contains("224x224") && messages[1].contains("300x224"), messages[1])
    }

    func testBadGroundingFilesNameTheFileLineAndField() {
        let folder = FilePathBytes("/data")
        let good = #"{"format": "kestrel-grounding", "version": 1, "path": "a.png", "width": 224, "height": 224, "query": "a red circle", "box": [1, 2, 30, 40]}"#
        XCTAssertEqual(try GroundingData.parse(Array((good + "\n\n").utf8), name: "g.jsonl", folder: folder).first?.path, FilePathBytes("/data/a.png"))
        for (text, expected) in [
            ("not json", "g.jsonl: line 2: not a JSON object"),
            (good.replacingOccurrences(of: #""box": [1, 2, 30, 40]"#, with: #""box": [1, 2, 30]"#), #"line 2: field "box""#),
            (good.replacingOccurrences(of: #""box": [1, 2, 30, 40]"#, with: #""box": [1, 2, 300, 40]"#), "outside the 224x224 picture"),
            (good.replacingOccurrences(of: #""box": [1, 2, 30, 40]"#, with: #""box": [30, 2, 1, 40]"#), "x0 < x1"),
            (good.replacingOccurrences(of: "kestrel-grounding", with: "kestrel-data"), #"field "format" is "kestrel-data""#),
            (good.replacingOccurrences(of: #""version": 1"#, with: #""version": 2"#), #"field "version" is 2"#),
            (good.replacingOccurrences(of: #""query": "a red circle""#, with: #""query": 5"#), #"field "query" must be a string"#),
            (good.replacingOccurrences(of: #""width": 224"#, with: #""width": true"#), #"field "width" must be a whole number"#),
        ] {
            XCTAssertThrowsError(try GroundingData.parse(Array((good + "\n" + text + "\n").utf8), name: "g.jsonl", folder: folder)) { e in
                XCTAssertTrue("\(e)".contains(expected), "\(e) should contain \(expected)")
            }
        }
        XCTAssertThrowsError(try GroundingData.parse(Array("\n".utf8), name: "g.jsonl", folder: folder)) { e in
            XCTAssertTrue("\(e)".contains("g.jsonl: no scenes"), "\(e)")
        }
    }
}
