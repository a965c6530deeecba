import Foundation
import KestrelTestSupport
import XCTest

/// `kestrel eval curve`: file names as bytes, names escaped in what it prints, hostile logs refused
/// naming the line.
final class EvalCurveCommandTests: XCTestCase {
    let log = """
        {"step":0,"loss":4.1,"lr":0}
        {"step":10,"loss":3.5,"lr":0.0001}

        {"step":20,"loss":2.25,"lr":0.0002}

        """

    func testLatin1NamesAreBytesAndPrintedEscaped() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-eval-curve")
        try RawPaths.write(Data(log.utf8), to: RawPaths.join(dir, Array("log".utf8) + [0xE9] + Array(".jsonl".utf8)))
        let r = try Kestrel.shell(#""$K" eval curve --log "$(printf 'log\351.jsonl')" --out "$(printf 'curve\351\033.png')""#, in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let png = RawPaths.join(dir, Array("curve".utf8) + [0xE9, 0x1B] + Array(".png".utf8))
        XCTAssertTrue(RawPaths.exists(png), "the PNG is written under the exact bytes given")
        XCTAssertEqual(r.stdout, "wrote curve\\xe9\\x1b.png: 3 points, steps 0 to 20\n")
    }

    func testHostileLogsAreRefusedNamingTheLine() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-eval-curve-bad")
        for (text, expected) in [
            ("{\"step\":1e15,\"loss\":1,\"lr\":0.1}\n{\"step\":1,\"loss\":1,\"lr\":0.1}\n", "line 2: step 1 does not follow step 1000000000000000"),
            ("\n\n{\"step\":1,\"loss\":1,\"lr\":-1}\n", "line 3: lr -1 is not a finite number >= 0"),
            ("{\"step\":1e300,\"loss\":1,\"lr\":1}\n", "line 1: step"),
        ] {
            let file = dir.appendingPathComponent("train.jsonl")
            try Data(text.utf8).write(to: file)
            let r = try Kestrel.run(["eval", "curve", "--log", file.path, "--out", dir.appendingPathComponent("c.png").path])
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertFalse(r.signaled)
            XCTAssertTrue(r.stderr.hasPrefix("error: \(file.path) \(expected)"), r.stderr)
        }
        // Huge but finite values draw (they trapped in Int() before).
        let file = dir.appendingPathComponent("huge.jsonl")
        try Data("{\"step\":0,\"loss\":1e300,\"lr\":1e300}\n{\"step\":9007199254740992,\"loss\":-1e300,\"lr\":0}\n".utf8).write(to: file)
        let r = try Kestrel.run(["eval", "curve", "--log", file.path, "--out", dir.appendingPathComponent("huge.png").path])
        XCTAssertEqual(r.status, 0, r.stderr)
    }
}

/// The other command that printed its raw `--out`: `data build`'s summary names the folder escaped.
final class DataBuildOutNameEscapingTests: XCTestCase {
    func testTheOutFolderIsPrintedEscaped() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-data-esc")
        let out = dir.appendingPathComponent("d\u{1B}[2J")
        let r = try Kestrel.run(["data", "build", "--only", "scenes", "--scenes", "1", "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stdout.unicodeScalars.contains("\u{1B}"), r.stdout)
        XCTAssertTrue(r.stdout.contains("-> \(dir.path)/d\\x1b[2J\n"), r.stdout)
    }
}
