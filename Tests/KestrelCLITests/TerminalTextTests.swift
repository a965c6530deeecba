import Foundation
import KestrelTestSupport
import XCTest

/// Kind 1 of issue 6 (names are bytes, shown escaped): no control character from any name a user
/// gives (a model folder, an index folder, a class name) reaches the terminal raw. Every
/// `error:`/`warning:` line and every plain-text field escapes them as file names are escaped
/// (`\n`, `\t`, `\x1b`), so a name cannot break a line, add a field or send a terminal escape.
final class TerminalTextTests: XCTestCase {
    let model = "Tests/Fixtures/models/hf-tiny"
    let image = "samples/images/circles/blue_circle.png"

    /// Control characters (C0 other than the line breaks between lines, DEL, C1) in `text`.
    func controls(_ text: String) -> [UInt32] {
        text.unicodeScalars.map(\.value).filter { ($0 < 0x20 && $0 != 0x0A) || (0x7F...0x9F).contains($0) }
    }

    func testKind1_StatsPlainOutputEscapesTheModelPathAndName() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-ctl")
        let hostile = dir.appendingPathComponent("mod\nel\u{1b}[31m\u{85}")
        try FileManager.default.copyItem(at: Fixtures.repoRoot.appendingPathComponent(model), to: hostile)
        let index = dir.appendingPathComponent("ix").path
        let add = try Kestrel.run(["index", "add", "--index", index, "--model", hostile.path, "--quiet", image])
        XCTAssertEqual(add.status, 0, add.stderr)
        let stats = try Kestrel.run(["index", "stats", "--index", index])
        XCTAssertEqual(stats.status, 0, stats.stderr)
        XCTAssertEqual(controls(stats.stdout), [], stats.stdout)
        // One line per field: the model path's line break did not split its line.
        let json = try Kestrel.run(["index", "stats", "--index", index, "--json"]).jsonLines()[0]
        XCTAssertEqual(stats.lines.count, json.count, stats.stdout)
        let pathLine = stats.lines.first { $0.hasPrefix("model_path") } ?? ""
        XCTAssertTrue(pathLine.hasSuffix("/mod\\nel\\x1b[31m\\u0085"), pathLine)
        let nameLine = stats.lines.first { $0.hasPrefix("model ") } ?? ""
        XCTAssertFalse(nameLine.contains("\n") || nameLine.contains("\u{1b}"), nameLine)
        // JSON keeps the exact text (escaped the JSON way).
        XCTAssertEqual((json["model_path"] as? String).map { $0.hasSuffix("/mod\nel\u{1b}[31m\u{85}") }, true)
    }

    func testKind1_ErrorLinesEscapeIndexAndModelNames() throws {
        let r = try Kestrel.run(["index", "stats", "--index", "/x\n\u{1b}[2J\t\u{9b}"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(controls(r.stderr), [], r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one error line: \(r.stderr)")
        XCTAssertTrue(r.stderr.hasPrefix("error: /x\\n\\x1b[2J\\t\\u009b holds no Kestrel index"), r.stderr)

        // A --model folder that is missing, and one that holds no model: its name escaped too.
        let missing = try Kestrel.run(["embed", "--model", "/nope\n\u{1b}[2J", "--text", "hi"])
        XCTAssertEqual(missing.status, 64, missing.stderr)
        XCTAssertEqual(controls(missing.stderr), [], missing.stderr)
        XCTAssertTrue(missing.stderr.hasPrefix("Error: --model /nope\\n\\x1b[2J: no such folder\n"), missing.stderr)
        let empty = Fixtures.temporaryDirectory("kestrel-ctl").appendingPathComponent("m\n\u{1b}[31m")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let notModel = try Kestrel.run(["embed", "--model", empty.path, "--text", "hi"])
        XCTAssertEqual(notModel.status, 1, notModel.stderr)
        XCTAssertEqual(controls(notModel.stderr), [], notModel.stderr)
        XCTAssertTrue(notModel.stderr.hasPrefix("error: ") && notModel.stderr.contains("m\\n\\x1b[31m"), notModel.stderr)
        XCTAssertEqual(notModel.stderr.split(separator: "\n").count, notModel.stderr.components(separatedBy: "\n---> HINT: ").count,
                       "one line, plus a HINT line when there is one: \(notModel.stderr)")
    }

    func testKind1_UsageErrorLinesEscapeTheArgument() throws {
        // ArgumentParser's `Error:` line too: a template from the user, with ESC and a line break.
        let r = try Kestrel.run(["label", "--model", model, "--labels", "a,b", "--template", "x\u{1b}[2J\ny", image])
        XCTAssertEqual(r.status, 64, r.stderr)
        let first = r.stderr.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertTrue(first.hasPrefix("Error: --template \"x\\x1b[2J\\ny\""), r.stderr)
        XCTAssertEqual(controls(r.stderr), [], r.stderr)
    }

    func testKind1_LabelPlainOutputEscapesClassNames() throws {
        // One class: it wins, and its tab must not add a field to path<TAB>label<TAB>score.
        let r = try Kestrel.run(["label", "--model", model, "--labels", "line\tx\u{1b}", image])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.lines.count, 1, r.stdout)
        let fields = r.lines[0].split(separator: "\t", omittingEmptySubsequences: false)
        XCTAssertEqual(fields.count, 3, r.stdout)
        XCTAssertEqual(fields.count > 1 ? String(fields[1]) : "", "line\\tx\\x1b")
        XCTAssertEqual(controls(r.stdout.replacingOccurrences(of: "\t", with: " ")), [], r.stdout)
    }

    func testKind1_SummaryLinesEscapeTheIndexName() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-ctl")
        let index = dir.appendingPathComponent("i\u{1b}[31m\nx").path
        let add = try Kestrel.run(["index", "add", "--index", index, "--model", model, "--quiet", image])
        XCTAssertEqual(add.status, 0, add.stderr)
        XCTAssertEqual(controls(add.stderr), [], add.stderr)
        XCTAssertTrue(add.stderr.contains("report: \(dir.path)/i\\x1b[31m\\nx/ingest-report.json\n"), add.stderr)
        let rebuild = try Kestrel.run(["index", "rebuild", "--index", index])
        XCTAssertEqual(rebuild.status, 0, rebuild.stderr)
        XCTAssertEqual(controls(rebuild.stdout + rebuild.stderr), [], rebuild.stdout + rebuild.stderr)
    }
}
