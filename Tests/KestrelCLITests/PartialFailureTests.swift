import Foundation
import KestrelTestSupport
import XCTest

/// Kind 8 of issue 6: exit status and partial failure. A file that cannot be read, decoded or
/// stored is one failed entry; the rest is stored and the exit status is 1.
final class PartialFailureTests: XCTestCase {
    let model = "Tests/Fixtures/models/hf-tiny"

    func testKind8_IndexAddStoresTheGoodFilesListsEachFailureOnceAndExitsOne() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-partial")
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        let samples = Fixtures.repoRoot.appendingPathComponent("samples/images")
        for name in ["circles/red_circle.png", "squares/red_square.jpg", "triangles/green_triangle.jpg"] {
            try FileManager.default.copyItem(at: samples.appendingPathComponent(name),
                                             to: dir.appendingPathComponent((name as NSString).lastPathComponent))
        }
        // A corrupt JPEG: a valid start, then garbage.
        var corrupt = try Data(contentsOf: samples.appendingPathComponent("squares/blue_square.jpg")).prefix(40)
        corrupt.append(Data(repeating: 0x55, count: 200))
        try corrupt.write(to: dir.appendingPathComponent("broken.jpg"))
        // An image whose path is longer than LMDB's 511-byte key limit, in nested folders.
        var deep = dir
        for i in 0..<5 { deep.appendPathComponent(String(repeating: "d\(i)", count: 50)) }
        try FileManager.default.createDirectory(at: deep, withIntermediateDirectories: true)
        let long = deep.appendingPathComponent("long_name_image.png")
        try FileManager.default.copyItem(at: samples.appendingPathComponent("circles/blue_circle.png"), to: long)
        XCTAssertGreaterThan(long.path.utf8.count, 511)

        let r = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--batch-size", "16", "--quiet", dir.path])
        XCTAssertEqual(r.status, 1, "some inputs failed: exit status 1\n\(r.stderr)")
        let stats = try Kestrel.run(["index", "stats", "--index", index.path, "--json"]).jsonLines().first
        XCTAssertEqual(stats?["items"] as? Int, 3, "the three good images are stored")
        XCTAssertEqual(stats?["indexed"] as? Int, 3)

        // Each failure once in the report and once on stderr, its path printed once.
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: index.appendingPathComponent("ingest-report.json"))) as! [String: Any]
        let failed = (report["failed"] as! [[String: Any]]).map { $0["path"] as! String }
        XCTAssertEqual(failed.sorted(), [dir.appendingPathComponent("broken.jpg").path, long.path].sorted())
        let errorLines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        XCTAssertEqual(errorLines.count, 2, r.stderr)
        for name in ["broken.jpg", "long_name_image.png"] {
            XCTAssertEqual(r.stderr.components(separatedBy: name).count - 1, 1, "\(name) should appear once:\n\(r.stderr)")
        }
        XCTAssertTrue(errorLines.contains { $0.contains("long_name_image.png") && $0.contains("511") }, r.stderr)

        // A second run retries only the failures: still exit 1, nothing lost.
        let again = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", dir.path])
        XCTAssertEqual(again.status, 1, again.stderr)
        XCTAssertTrue(again.stderr.contains("unchanged 3"), again.stderr)
    }

    func testKind8_AllGoodExitsZero() throws {
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        let r = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", "samples/images/circles"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stderr.contains("error:"), r.stderr)
    }
}
