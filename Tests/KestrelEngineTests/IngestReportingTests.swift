import Foundation
import KestrelEngine
import KestrelTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Library code reports progress and problems to its caller (a callback, the report), and never
/// writes to stderr itself; failures are entries of the report, each file once.
final class IngestReportingTests: XCTestCase {
    func testProgressGoesToTheCallbackAndNothingToStderr() throws {
        let embedder = try Embedder(modelDirectory: Fixtures.url("models/hf-tiny"))
        let dir = Fixtures.temporaryDirectory("kestrel-engine")
        let images = Fixtures.temporaryDirectory("kestrel-engine-images")
        for name in ["red_circle.png", "blue_circle.png", "green_circle.jpg"] {
            try FileManager.default.copyItem(at: Fixtures.repoRoot.appendingPathComponent("samples/images/circles/\(name)"),
                                             to: images.appendingPathComponent(name))
        }
        try Data("not a png".utf8).write(to: images.appendingPathComponent("bad.png"))
        let catalog = try Catalog.openForWriting(dir.appendingPathComponent("ix"), identity: try ModelFingerprint.identity(of: embedder.model),
                                                 modelPath: embedder.model.directory.path, orientation: embedder.preprocessor.decoder.orientation)
        final class Calls: @unchecked Sendable { var list: [[Int]] = []; let lock = NSLock() }
        let calls = Calls()
        var options = IngestOptions()
        options.batchSize = 2
        options.progress = { done, total in calls.lock.lock(); calls.list.append([done, total]); calls.lock.unlock() }

        // Capture fd 2 while the library runs.
        let capture = dir.appendingPathComponent("stderr.txt").path
        let saved = dup(STDERR_FILENO)
        let fd = open(capture, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        dup2(fd, STDERR_FILENO)
        let report = try Ingestor(catalog: catalog, embedder: embedder, options: options).run([FilePathBytes(images.path)])
        dup2(saved, STDERR_FILENO)
        close(fd); close(saved)

        XCTAssertEqual(calls.list, [[2, 4], [4, 4]])
        XCTAssertEqual(report.added, 3)
        XCTAssertEqual(report.failed.map(\.path), [FilePathBytes(images.appendingPathComponent("bad.png").path)])
        XCTAssertFalse(report.failed[0].reason.contains("bad.png"), "the reason does not repeat the path: \(report.failed[0].reason)")
        XCTAssertEqual(try String(contentsOfFile: capture, encoding: .utf8), "")

        // The closing index build is timed on its own and left out of the throughput.
        XCTAssertGreaterThan(report.closingIndexSeconds, 0)
        XCTAssertLessThan(report.closingIndexSeconds, report.seconds)
        XCTAssertEqual(report.imagesPerSecond, 3 / (report.seconds - report.closingIndexSeconds), accuracy: 1e-9)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any])
        // Foundation's JSON writer keeps about 17 significant digits, not always the exact double.
        XCTAssertEqual(try XCTUnwrap(json["index_build_seconds"] as? Double), report.closingIndexSeconds,
                       accuracy: 1e-12 * max(1, report.closingIndexSeconds))
    }

    /// One image and a long index rebuild: the throughput is the embedding's, not 0.1 images/s.
    func testThroughputLeavesOutTheClosingIndexBuild() {
        var report = IngestReport()
        report.added = 1
        report.changed = 1
        report.seconds = 12
        report.closingIndexSeconds = 10
        XCTAssertEqual(report.imagesPerSecond, 1, accuracy: 1e-12)
        report.closingIndexSeconds = 12
        XCTAssertEqual(report.imagesPerSecond, 0, "no embedding time measured: 0, not infinity")
    }
}
