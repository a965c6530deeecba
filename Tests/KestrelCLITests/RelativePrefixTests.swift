import Foundation
import KestrelTestSupport
import XCTest

/// Kind 1 of issue 6 (paths): `search --prefix` given relative to the current folder matches
/// the stored (absolute) paths under it, as `index remove` resolves its relative paths.
final class RelativePrefixTests: XCTestCase {
    func testKind1_RelativePrefixIsTakenFromTheCurrentFolder() throws {
        let index = Fixtures.temporaryDirectory("kestrel-prefix").appendingPathComponent("ix").path
        let add = try Kestrel.run(["index", "add", "--index", index, "--model", "Tests/Fixtures/models/hf-tiny", "--quiet", "samples/images"])
        XCTAssertEqual(add.status, 0, add.stderr)
        let circles = Fixtures.repoRoot.appendingPathComponent("samples/images/circles").path + "/"
        let all = try Kestrel.run(["search", "--index", index, "--text", "a circle", "-k", "100", "--json"]).jsonLines()
        let expected = all.compactMap { $0["path"] as? String }.filter { $0.hasPrefix(circles) }.sorted()
        XCTAssertFalse(expected.isEmpty)
        for prefix in ["samples/images/circles/", "./samples/images/circles", "samples/images/x/../circles/", "samples/images/circ"] {
            let r = try Kestrel.run(["search", "--index", index, "--text", "a circle", "-k", "100", "--json", "--prefix", prefix])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(try r.jsonLines().compactMap { $0["path"] as? String }.sorted(), expected, prefix)
        }
        // A last `..` names a folder: the prefix is that folder with its slash.
        let none = try Kestrel.run(["search", "--index", index, "--text", "a circle", "--json", "--prefix", "samples/images/circles/x/.."])
        XCTAssertEqual(try none.jsonLines().compactMap { $0["path"] as? String }.sorted(), expected)
    }
}
