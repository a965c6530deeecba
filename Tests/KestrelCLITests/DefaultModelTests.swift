import Foundation
import KestrelTestSupport
import XCTest

/// Every model command works without `--model`: it then uses the model shipped with Kestrel
/// (or `$KESTREL_MODEL`), and `info --json` says which folder that is.
final class DefaultModelTests: XCTestCase {
    let image = "Tests/Fixtures/images/exif_upright.png"

    func testInfoWithoutModelDescribesTheShippedModelAndItsPath() throws {
        let r = try Kestrel.run(["info", "--json"], environment: ["KESTREL_MODEL": ""])
        XCTAssertEqual(r.status, 0, r.stderr)
        let info = try XCTUnwrap(r.jsonLines().first)
        let path = try XCTUnwrap(info["path"] as? String)
        XCTAssertTrue(path.hasSuffix("/kestrel-default"), path)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + "/config.json"), path)
        XCTAssertEqual(info["layout"] as? String, "huggingface")
    }

    func testModelCommandsRunWithoutModel() throws {
        let index = Fixtures.temporaryDirectory("kestrel-default-index").appendingPathComponent("ix").path
        for args in [["embed", "--text", "a red circle"], ["label", "--labels", "circle,square", image],
                     ["index", "add", "--index", index, image], ["search", "--index", index, "--text", "a circle"]] {
            let r = try Kestrel.run(args, environment: ["KESTREL_MODEL": ""])
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
        }
    }

    func testKestrelModelEnvironmentVariableChoosesTheFolder() throws {
        let dir = URL(fileURLWithPath: "Tests/Fixtures/models/openclip-tiny").standardizedFileURL.path
        let r = try Kestrel.run(["info", "--json"], environment: ["KESTREL_MODEL": dir])
        XCTAssertEqual(r.status, 0, r.stderr)
        let info = try XCTUnwrap(r.jsonLines().first)
        XCTAssertEqual(info["layout"] as? String, "openclip")
        let bad = try Kestrel.run(["info"], environment: ["KESTREL_MODEL": "/nonexistent/kestrel-model"])
        XCTAssertEqual(bad.status, 1, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("KESTREL_MODEL=/nonexistent/kestrel-model"), bad.stderr)
    }
}
