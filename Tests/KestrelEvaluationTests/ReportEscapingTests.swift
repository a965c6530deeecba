@testable import KestrelEvaluation
import KestrelEngine
import XCTest

/// Class names come from the user's CSV: the table escapes their control characters (an ESC in a
/// label must not reach the terminal), and the number of classes is capped.
final class ReportEscapingTests: XCTestCase {
    func testALabelHoldingESCIsEscapedInTheTable() throws {
        let labels = ["plain", "evil\u{1B}[31m"]
        let predictions = try ClassPredictions(classCount: 2, truth: [0, 1], probabilities: [0.9, 0.1, 0.2, 0.8])
        let metrics = try ZeroShotMetrics.compute(predictions, settings: BootstrapSettings(resamples: 10, seed: 0))
        let run = ZeroShotRun(labels: labels, templates: ["a {}"], failed: [], metrics: metrics)
        let context = EvalContext(modelPath: "/m\u{1B}x", fingerprint: "sha256:00", precision: "fp32", dataKind: "csv",
                                  dataPath: "/d\u{1B}.csv", listSHA256: "sha256:00", arguments: [])
        let table = EvalReport.table(run, context: context)
        XCTAssertFalse(table.unicodeScalars.contains("\u{1B}"), table)
        XCTAssertTrue(table.contains("evil\\x1b[31m"), table)
        XCTAssertTrue(table.contains("1 evil\\x1b[31m"), table)
        XCTAssertTrue(table.contains("/d\\x1b.csv"), table)
    }

    func testTooManyClassesAreRefusedNamingTheirSource() throws {
        let many = (0...ZeroShotEvaluation.maxClasses).map { "c\($0)" }
        XCTAssertThrowsError(try ZeroShotEvaluation.candidateLabels(trueLabels: ["c0"], candidates: many, truthSource: "x.csv",
                                                                    candidateSource: "--labels-file")) {
            XCTAssertTrue("\($0)".hasPrefix("--labels-file holds 10001 classes"), "\($0)")
        }
        XCTAssertThrowsError(try ZeroShotEvaluation.candidateLabels(trueLabels: many, candidates: nil, truthSource: "x.csv")) {
            XCTAssertTrue("\($0)".hasPrefix("x.csv holds 10001 classes"), "\($0)")
        }
        XCTAssertEqual(try ZeroShotEvaluation.candidateLabels(trueLabels: ["c0"], candidates: Array(many.dropLast()), truthSource: "x.csv").count,
                       ZeroShotEvaluation.maxClasses)
    }
}
