import Foundation
import KestrelTestSupport
import XCTest

/// `kestrel data build` run as a user runs it (scenes only: no Debian data needed).
final class DataBuildCommandTests: XCTestCase {
    func testBuildScenesWritesImagesManifestCSVsAndBuildRecord() throws {
        let dir = Fixtures.temporaryDirectory("data-build")
        let out = dir.appendingPathComponent("d")
        let r = try Kestrel.run(["data", "build", "--only", "scenes", "--scenes", "40", "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("rendering 40 train scenes"), r.stderr)
        XCTAssertTrue(r.stdout.contains("scenes: heldout 8, train 40"), r.stdout)
        let lines = try String(contentsOf: out.appendingPathComponent("manifest.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 48)
        for line in lines {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let path = o["path"] as! String
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(path).path), path)
            XCTAssertEqual((o["sha256"] as? String)?.count, 64)
            XCTAssertEqual(o["source"] as? String, "scenes")
            XCTAssertFalse((o["captions"] as! [String]).isEmpty)
            XCTAssertFalse((o["boxes"] as! [Any]).isEmpty)
        }
        for (name, header) in [("scenes-heldout-shape.csv", "path,label"), ("scenes-heldout-colour.csv", "path,label"),
                               ("scenes-heldout-captions.csv", "path,caption")] {
            let csv = try String(contentsOf: out.appendingPathComponent("eval/\(name)"), encoding: .utf8)
            let rows = csv.split(separator: "\r\n").map(String.init)
            XCTAssertEqual(rows.first, header, name)
            XCTAssertGreaterThan(rows.count, 1, name)
            for row in rows.dropFirst() {
                let path = String(row.split(separator: ",")[0])
                XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("eval").appendingPathComponent(path).path), "\(name): \(path)")
            }
        }
        let shapes = try String(contentsOf: out.appendingPathComponent("eval/scenes-heldout-shape.csv"), encoding: .utf8)
        XCTAssertEqual(shapes.split(separator: "\r\n").count, 1 + 4)
        let build = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("build.json"))) as! [String: Any]
        XCTAssertEqual(build["format"] as? String, "kestrel-data-build")
        XCTAssertEqual(build["version"] as? Int, 1)
        XCTAssertEqual(build["total"] as? Int, 48)
        XCTAssertNotNil(build["elapsedSeconds"] as? Double)
        XCTAssertFalse((build["codeVersion"] as? String ?? "").isEmpty, "build.json records the code version")
        // No partial folder left; an existing folder is refused, never overwritten.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["d"])
        let again = try Kestrel.run(["data", "build", "--only", "scenes", "--scenes", "4", "--out", out.path])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("already exists"), again.stderr)
    }

    func testUnknownSourceIsAUsageError() throws {
        let r = try Kestrel.run(["data", "build", "--only", "scenes,photos", "--out", "/tmp/never"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("unknown source 'photos'"), r.stderr)
    }
}
