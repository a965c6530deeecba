import KestrelEngine
import KestrelEvaluation
import KestrelTestSupport
import XCTest

final class InputsAndPlotsTests: XCTestCase {
    func testCSVQuotingLineEndsAndRelativePaths() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-eval-csv")
        let csv = dir.appendingPathComponent("list.csv")
        let text = "\u{FEFF}path,label\r\na.png,cat\r\n\"b,1.png\",\"big \"\"dog\"\"\"\n\n/abs/c.png,\"two\nlines\"\n"
        try Data(text.utf8).write(to: csv)
        let items = try EvalInputs.labeledImages(csv: FilePathBytes(csv.path))
        XCTAssertEqual(items.map(\.label), ["cat", "big \"dog\"", "two\nlines"])
        XCTAssertEqual(items.map(\.path.lossyString), [dir.path + "/a.png", dir.path + "/b,1.png", "/abs/c.png"])
    }

    func testCSVErrorsNameTheFileAndLine() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-eval-csv")
        let csv = dir.appendingPathComponent("x.csv")
        func error(_ text: String) -> String {
            try? Data(text.utf8).write(to: csv)
            do { _ = try EvalInputs.labeledImages(csv: FilePathBytes(csv.path)); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(error("file,label\na,b\n").contains("header `path,label`"))
        XCTAssertTrue(error("path,label\na,b,c\n").contains("line 2: 3 fields"))
        XCTAssertTrue(error("path,label\na,\"b\n").contains("line 2: a quoted field is not closed"))
        XCTAssertTrue(error("path,label\na,\n").contains("line 2: the label is empty"))
        XCTAssertTrue(error("path,label\n").contains("no rows"))
        XCTAssertTrue(error("path,label\na,\"b\"x\n").contains("text after a closing quote"))
        XCTAssertTrue(error("path,label\na,b,c\n").contains(csv.path), "the message names the file")
        XCTAssertEqual(error("path,label\na,b\n"), "")
        XCTAssertThrowsError(try EvalInputs.labeledImages(csv: FilePathBytes(dir.appendingPathComponent("none.csv").path)))
    }

    func testCandidateLabels() throws {
        XCTAssertEqual(try ZeroShotEvaluation.candidateLabels(trueLabels: ["b", "a", "b"], candidates: nil, truthSource: "t"), ["a", "b"])
        XCTAssertEqual(try ZeroShotEvaluation.candidateLabels(trueLabels: ["b"], candidates: ["c", "b"], truthSource: "t"), ["c", "b"])
        XCTAssertThrowsError(try ZeroShotEvaluation.candidateLabels(trueLabels: ["a", "z"], candidates: ["a", "b"], truthSource: "t")) {
            XCTAssertTrue("\($0)".contains("\"z\""), "\($0)")
        }
    }

    func testFontDrawsItsGlyphs() {
        XCTAssertTrue(BitmapFont.hasGlyph("a") && BitmapFont.hasGlyph("Z") && BitmapFont.hasGlyph("7") && BitmapFont.hasGlyph("/"))
        XCTAssertFalse(BitmapFont.hasGlyph("é"))
        XCTAssertEqual(BitmapFont.glyph("é"), BitmapFont.glyph("?"))
        XCTAssertEqual(BitmapFont.glyph("l"), BitmapFont.glyph("L"))
        for glyph in BitmapFont.drawings.values { XCTAssertTrue(glyph.count == 7 && glyph.allSatisfy { $0.count == 5 }, "\(glyph)") }
        // "L" at scale 2 from (1, 1): a bar 2 px wide on the left, a 10 px foot in rows 13-14.
        var c = Canvas(width: 12, height: 16)
        BitmapFont.draw("L", on: &c, x: 1, y: 1, scale: 2, color: .black)
        XCTAssertEqual(c.pixel(x: 1, y: 1), .black); XCTAssertEqual(c.pixel(x: 2, y: 12), .black)
        XCTAssertEqual(c.pixel(x: 3, y: 1), .white)
        XCTAssertEqual(c.pixel(x: 10, y: 14), .black); XCTAssertEqual(c.pixel(x: 10, y: 12), .white)
        XCTAssertEqual(BitmapFont.width(of: "AB"), 11)
    }

    func testPlotsArePNGsWithTheHeatInTheirCells() throws {
        let canvas = Plots.confusionMatrix(counts: [[3, 1], [0, 4]], labels: ["cat", "dog"])
        let png = try canvas.png()
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // The (1, 1) cell holds the whole row: most of its 28 x 28 pixels are the darkest colour
        // (the rest is its "100" in white).
        var darkest = 0
        for y in 0..<canvas.height { for x in 0..<canvas.width where canvas.pixel(x: x, y: y) == Plots.heat(1) { darkest += 1 } }
        XCTAssertGreaterThan(darkest, 28 * 28 / 2)
        XCTAssertLessThanOrEqual(darkest, 28 * 28)
        XCTAssertEqual(Plots.heat(0), .white)
        let r = Plots.reliabilityDiagram(bins: Calibration.bins(confidence: [0.9, 0.95], correct: [true, true]), ece: 0.075)
        XCTAssertEqual(Array(try r.png().prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    }
}
