import Foundation
import KestrelTestSupport
import XCTest

/// Kind 2 (and kind 3's `-k`): every number a user types is checked where it enters, with the
/// option named and exit status 64, so a release build never turns a bad value into a crash.
/// Kind 12: `--labels-file -` reads the class names from standard input.
final class ReleaseChecksTests: XCTestCase {
    let model = "Tests/Fixtures/models/hf-tiny"
    let images = "samples/images"
    let imageCount = 12

    /// A real index folder over samples/images (12 items).
    func makeIndex() throws -> URL {
        let index = Fixtures.temporaryDirectory("kestrel-checks").appendingPathComponent("ix")
        let r = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", images])
        XCTAssertEqual(r.status, 0, r.stderr)
        return index
    }

    func stats(_ index: URL) throws -> [String: Any] {
        let r = try Kestrel.run(["index", "stats", "--index", index.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(r.jsonLines().first)
    }

    /// Asserts a usage error (exit 64) whose message names `option`, and nothing on stdout.
    func assertRefused(_ r: CommandResult, naming option: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 64, "exit status; stderr: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(option), "message should name \(option): \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stdout, "", file: file, line: line)
    }

    func testKind2_labelTopMustBeAtLeastOne() throws {
        for bad in ["--top=-1", "--top=0"] {
            let r = try Kestrel.run(["label", "--model", model, "--labels", "circle,square,triangle", bad, "--json", images])
            assertRefused(r, naming: "--top")
        }
        // In range: exactly `top` entries; above the class count: every class once.
        let two = try Kestrel.run(["label", "--model", model, "--labels", "circle,square,triangle", "--top", "2", "--json", images])
        XCTAssertEqual(two.status, 0, two.stderr)
        for row in try two.jsonLines() { XCTAssertEqual((row["top"] as! [Any]).count, 2) }
        let many = try Kestrel.run(["label", "--model", model, "--labels", "circle,square,triangle", "--top", "9223372036854775807", "--json", images])
        XCTAssertEqual(many.status, 0, many.stderr)
        XCTAssertEqual(try many.jsonLines().count, imageCount)
        for row in try many.jsonLines() { XCTAssertEqual((row["top"] as! [Any]).count, 3) }
    }

    func testKind2_searchKMustBeAtLeastOne() throws {
        let index = try makeIndex()
        for bad in ["0", "-1"] {
            assertRefused(try Kestrel.run(["search", "--index", index.path, "--like", "1", "-k", bad]), naming: "-k")
        }
    }

    /// A text query with no words (empty, spaces, a newline) is refused naming --text, with or
    /// without --grounded, as the server's /v1/search refuses it: its embedding is the empty
    /// prompt's, and a ranking for it would be a wrong answer given silently. (Before: exit 0 and
    /// a ranking, found by trying it.)
    func testKind2_searchTextWithNoWordsIsRefused() throws {
        let index = try makeIndex()
        for text in ["", "   ", "\n", " \t "] {
            assertRefused(try Kestrel.run(["search", "--index", index.path, "--text", text]), naming: "--text")
            assertRefused(try Kestrel.run(["search", "--index", index.path, "--text", text, "--grounded"]), naming: "--text")
        }
    }

    /// Kind 2 and kind 3: a huge k is clamped to the item count before anything is allocated.
    func testKind2_hugeKReturnsEveryItem() throws {
        let index = try makeIndex()
        for k in ["9223372036854775807", "1000000000000"] {
            let r = try Kestrel.run(["search", "--index", index.path, "--text", "a red circle", "-k", k, "--json"])
            XCTAssertEqual(r.status, 0, "-k \(k): \(r.stderr)")
            let rows = try r.jsonLines()
            XCTAssertEqual(rows.count, imageCount, "-k \(k)")
            XCTAssertEqual(Set(rows.map { $0["id"] as! Int }).count, imageCount)
            XCTAssertEqual(rows.map { $0["rank"] as! Int }, Array(1...imageCount))
            // "More like this" leaves the item itself out: one fewer.
            let like = try Kestrel.run(["search", "--index", index.path, "--like", "1", "-k", k, "--json"])
            XCTAssertEqual(like.status, 0, "--like -k \(k): \(like.stderr)")
            let likeIDs = try like.jsonLines().map { $0["id"] as! Int }
            XCTAssertEqual(likeIDs.count, imageCount - 1)
            XCTAssertFalse(likeIDs.contains(1))
        }
    }

    func testKind2_minScoreMustBeFinite() throws {
        let index = try makeIndex()
        for bad in ["nan", "inf", "-inf"] {
            assertRefused(try Kestrel.run(["search", "--index", index.path, "--like", "1", "--min-score", bad]), naming: "--min-score")
        }
        // Negative scores are legal (cosines go down to -1): every other item passes -1.
        let r = try Kestrel.run(["search", "--index", index.path, "--like", "1", "-k", "100", "--min-score", "-1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try r.jsonLines().count, imageCount - 1)
    }

    func testKind2_unknownBelowMustBeAFiniteProbability() throws {
        for bad in ["nan", "inf", "-0.5", "1.5"] {
            let r = try Kestrel.run(["label", "--model", model, "--labels", "a,b", "--unknown-below", bad, images])
            assertRefused(r, naming: "--unknown-below")
        }
    }

    func testKind2_batchSizeAndPixelLimitMustBePositive() throws {
        for (option, bad) in [("--batch-size", "0"), ("--batch-size", "-3"), ("--pixel-limit", "0")] {
            let r = try Kestrel.run(["label", "--model", model, "--labels", "a,b", option, bad, images])
            assertRefused(r, naming: option)
        }
    }

    /// `HNSW0` used to reach FAISS (a segfault in release builds); every number of a factory
    /// string is checked first, and the store keeps its index type.
    func testKind2_rebuildRefusesBadFactoryNumbersAndKeepsTheStore() throws {
        let index = try makeIndex()
        let before = try stats(index)
        continueAfterFailure = false
        for bad in ["HNSW0", "HNSW1", "HNSW0,Flat", "IVF0,Flat", "IVF4,PQ0", "IVF4,PQ4x0", "IVF4,PQ4x99", "PQ7", "HNSW99999999999999999999"] {
            let r = try Kestrel.run(["index", "rebuild", "--index", index.path, "--index-type", bad])
            assertRefused(r, naming: "--index-type")
            XCTAssertTrue(r.stderr.contains(bad), "message should quote \(bad): \(r.stderr)")
        }
        let after = try stats(index)
        for key in ["items", "indexed", "index_type", "log_sequence", "index_sequence"] {
            XCTAssertEqual("\(before[key]!)", "\(after[key]!)", key)
        }
        // The refused spec was not remembered: an add and a plain rebuild still work.
        let add = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", images])
        XCTAssertEqual(add.status, 0, add.stderr)
        let rebuild = try Kestrel.run(["index", "rebuild", "--index", index.path])
        XCTAssertEqual(rebuild.status, 0, rebuild.stderr)
        XCTAssertTrue(rebuild.stderr.hasPrefix("rebuilt Flat over \(imageCount) items"), rebuild.stderr)
        // A valid explicit string still builds.
        let hnsw = try Kestrel.run(["index", "rebuild", "--index", index.path, "--index-type", "HNSW8"])
        XCTAssertEqual(hnsw.status, 0, hnsw.stderr)
        XCTAssertEqual(try stats(index)["index_type"] as? String, "HNSW8,Flat")
    }

    func testKind2_addRefusesBadFactoryBeforeCreatingAnything() throws {
        let index = Fixtures.temporaryDirectory("kestrel-checks").appendingPathComponent("ix")
        let r = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--index-type", "HNSW0", images])
        assertRefused(r, naming: "--index-type")
        XCTAssertFalse(FileManager.default.fileExists(atPath: index.path), "nothing should be created")
    }

    func testKind2_recallOutsideZeroToOneRefusedBeforeAnyRebuild() throws {
        let index = try makeIndex()
        let before = try stats(index)
        for bad in ["nan", "0", "1.5", "-0.5", "inf"] {
            let r = try Kestrel.run(["index", "rebuild", "--index", index.path, "--index-type", "hnsw", "--recall", bad])
            assertRefused(r, naming: "--recall")
        }
        XCTAssertEqual("\(before["index_type"]!)", "\(try stats(index)["index_type"]!)")
        let ok = try Kestrel.run(["index", "rebuild", "--index", index.path, "--index-type", "hnsw", "--recall", "1"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stderr.contains("target 1.0"), ok.stderr)
    }

    func testKind2_indexMemoryEnvironmentVariableIsChecked() throws {
        for bad in ["lots", "0", "-5"] {
            let index = Fixtures.temporaryDirectory("kestrel-checks").appendingPathComponent("ix")
            let r = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", images],
                                    environment: ["KESTREL_INDEX_MEMORY": bad])
            XCTAssertNotEqual(r.status, 0, "KESTREL_INDEX_MEMORY=\(bad) was accepted")
            XCTAssertTrue(r.stderr.contains("KESTREL_INDEX_MEMORY"), r.stderr)
        }
        let index = Fixtures.temporaryDirectory("kestrel-checks").appendingPathComponent("ix")
        let r = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", images],
                                environment: ["KESTREL_INDEX_MEMORY": "1000000000"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// Kind 12: `--labels-file -` reads the class names from standard input.
    func testKind12_labelsFileDashReadsStandardInput() throws {
        let fromStdin = try Kestrel.run(["label", "--model", model, "--labels-file", "-", "--json", images],
                                        stdin: "circle\n  square \n\ntriangle\n")
        XCTAssertEqual(fromStdin.status, 0, fromStdin.stderr)
        let rows = try fromStdin.jsonLines()
        XCTAssertEqual(rows.count, imageCount)
        XCTAssertEqual(Set((try XCTUnwrap(rows.first)["scores"] as! [String: Any]).keys), ["circle", "square", "triangle"])
        let fromOption = try Kestrel.run(["label", "--model", model, "--labels", "circle,square,triangle", "--json", images])
        XCTAssertEqual(fromStdin.stdout, fromOption.stdout)
        // Empty standard input: no class names, a usage error naming the option.
        let empty = try Kestrel.run(["label", "--model", model, "--labels-file", "-", images], stdin: "")
        assertRefused(empty, naming: "--labels-file")
    }
}
