import Foundation
import KestrelTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `kestrel serve` without a key beside `kestrel index add` and `kestrel index rebuild` run from
/// other processes: the server takes in the new items (found, `/readyz` 200 again) and serves
/// the rebuilt index, within a bounded wait, without a restart.
final class ServeFollowTests: XCTestCase {
    func testAReadOnlyServerFollowsIndexAddAndRebuild() throws {
        let index = try ServeTesting.makeIndex()
        let server = try ServeProcess.start(index: index, extra: [])
        XCTAssertTrue(server.stderrText.contains("(read-only)"), server.stderrText)
        func resultIDs() throws -> Set<Int> {
            let answer = try LoopbackHTTP.json(port: server.port, path: "/v1/search", ["text": "a shape", "k": 1000])
            XCTAssertEqual(answer.status, 200, answer.text)
            return Set(((answer.json["results"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? Int })
        }
        func ready() -> Bool { (try? LoopbackHTTP.request(port: server.port, method: "GET", path: "/readyz").status) == 200 }
        func factory() -> String? {
            let info = try? LoopbackHTTP.request(port: server.port, method: "GET", path: "/v1/info")
            return (info?.json["index"] as? [String: Any])?["factory"] as? String
        }
        let before = try resultIDs()
        XCTAssertTrue(ready())
        let oldFactory = try XCTUnwrap(factory())

        // Another process adds images (the server holds no writer lock, so it may).
        let folder = index.deletingLastPathComponent().appendingPathComponent("more")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for i in 0..<3 {
            let png = TinyPNG.solid(width: 20 + i, height: 24, red: UInt8(40 * i), green: 200, blue: 60)
            try Data(png).write(to: folder.appendingPathComponent("extra\(i).png"))
        }
        let add = try Kestrel.run(["index", "add", "--index", index.path, "--model", ServeCommandTests.model, "--quiet", folder.path])
        XCTAssertEqual(add.status, 0, add.stderr)
        XCTAssertTrue(ServeTesting.waitUntil(seconds: 60) { ((try? resultIDs()) ?? []).count == before.count + 3 },
                      "the server never found the added items: \(server.stderrText)")
        XCTAssertTrue(ServeTesting.waitUntil(seconds: 60) { ready() }, "/readyz stayed 503 after the server caught up")
        XCTAssertTrue(before.isSubset(of: try resultIDs()))

        // Another process rebuilds the index as another type: the server swaps it in.
        let rebuild = try Kestrel.run(["index", "rebuild", "--index", index.path, "--index-type", "hnsw"])
        XCTAssertEqual(rebuild.status, 0, rebuild.stderr)
        XCTAssertTrue(ServeTesting.waitUntil(seconds: 60) { factory().map { $0 != oldFactory && $0.hasPrefix("HNSW") } ?? false },
                      "the server kept the old index (\(factory() ?? "?")) after a rebuild: \(server.stderrText)")
        XCTAssertEqual(try resultIDs().count, before.count + 3)
        XCTAssertTrue(ready())

        kill(server.pid, SIGTERM)
        XCTAssertEqual(server.waitForExit(seconds: 60), 0, server.stderrText)
        XCTAssertFalse(server.stderrText.contains("warning"), server.stderrText)
    }
}
