import Foundation
import KestrelTestSupport
import XCTest

/// Kind 2 / kind 8: `--index-type` is checked (the planner's supported forms, then a dry FAISS
/// parse at the store's dimension) before any image is read; every refusal is a usage error
/// (exit 64) in Kestrel's words; a type that fails to build is never remembered.
final class IndexTypeCommandTests: XCTestCase {
    let model = "Tests/Fixtures/models/hf-tiny"
    let images = "samples/images"

    func stats(_ index: URL) throws -> [String: Any] {
        let r = try Kestrel.run(["index", "stats", "--index", index.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(r.jsonLines().first)
    }

    func assertNoFaissText(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        for leak in ["faiss::", "Error in ", "WARNING clustering", "std::", ".cpp"] {
            XCTAssertFalse(text.contains(leak), "FAISS text reached the user: \(text)", file: file, line: line)
        }
    }

    func testKind2_UnsupportedIndexTypesAreRefusedBeforeBuilding() throws {
        let index = Fixtures.temporaryDirectory("kestrel-types").appendingPathComponent("ix")
        XCTAssertEqual(try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", images]).status, 0)
        let before = try stats(index)
        for bad in ["NSG32,Flat", "IVF4,Flat,Refine(Flat)", "junk", "LSH", "HNSW0", "IVF4,PQ4x4fs", "Flat,Flat"] {
            for command in [["index", "rebuild", "--index", index.path, "--index-type", bad],
                            ["index", "add", "--index", index.path, "--model", model, "--quiet", "--index-type", bad, images]] {
                let r = try Kestrel.run(command)
                XCTAssertEqual(r.status, 64, "\(command): \(r.stderr)")
                XCTAssertTrue(r.stderr.contains("--index-type"), r.stderr)
                XCTAssertTrue(r.stderr.contains(bad), r.stderr)
                assertNoFaissText(r.stderr)
            }
        }
        let after = try stats(index)
        for key in ["items", "indexed", "index_type", "log_sequence", "index_sequence"] {
            XCTAssertEqual("\(before[key]!)", "\(after[key]!)", key)
        }
        // Searching still works, and a lower-case spelling of a supported type builds.
        XCTAssertEqual(try Kestrel.run(["search", "--index", index.path, "--text", "hi", "-k", "3"]).status, 0)
        let hnsw = try Kestrel.run(["index", "rebuild", "--index", index.path, "--index-type", "hnsw64"])
        XCTAssertEqual(hnsw.status, 0, hnsw.stderr)
        XCTAssertEqual(try stats(index)["index_type"] as? String, "HNSW64,Flat")
        // A transform that changes scores (PCA) is refused as a usage error; the index stays HNSW64.
        let pca = try Kestrel.run(["index", "rebuild", "--index", index.path, "--index-type", "PCA8,HNSW8,Flat"])
        XCTAssertEqual(pca.status, 64, pca.stderr)
        XCTAssertTrue(pca.stderr.contains("cosine"), pca.stderr)
        assertNoFaissText(pca.stderr)
        XCTAssertEqual(try stats(index)["index_type"] as? String, "HNSW64,Flat")
        let s = try Kestrel.run(["search", "--index", index.path, "--text", "hi", "-k", "3", "--json"])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertEqual(try s.jsonLines().count, 3)
    }

    /// The tryout's sequence: a junk type given to `index add` used to be remembered after the
    /// ingest stored the images, wedging every later add and rebuild.
    func testKind8_AFailedIndexTypeIsNeverSaved() throws {
        let index = Fixtures.temporaryDirectory("kestrel-types").appendingPathComponent("w")
        XCTAssertEqual(try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", "\(images)/circles"]).status, 0)
        let items = try stats(index)["items"] as! Int
        let junk = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", "--index-type", "junk", "\(images)/squares"])
        XCTAssertEqual(junk.status, 64, junk.stderr)
        XCTAssertEqual(try stats(index)["items"] as? Int, items, "nothing may be ingested for a refused --index-type")
        let plain = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", "\(images)/triangles"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertEqual(try Kestrel.run(["index", "rebuild", "--index", index.path]).status, 0)

        // Too few vectors to train: said in those words, before building; nothing is remembered.
        let n = try stats(index)["items"] as! Int
        let type = "IVF\(n + 1),Flat"
        let ivf = try Kestrel.run(["index", "rebuild", "--index", index.path, "--index-type", type])
        XCTAssertEqual(ivf.status, 64, ivf.stderr)
        XCTAssertTrue(ivf.stderr.contains("needs at least \(n + 1) vectors"), ivf.stderr)
        XCTAssertTrue(ivf.stderr.contains("holds \(n)"), ivf.stderr)
        XCTAssertFalse(ivf.stderr.contains("damaged"), ivf.stderr)
        assertNoFaissText(ivf.stderr)
        // Through `index add`, the images go in (they are fine), the type is not applied.
        let add = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", "--index-type", "ivfpq", images])
        XCTAssertEqual(add.status, 1, add.stderr)
        XCTAssertTrue(add.stderr.contains("needs at least 256 vectors"), add.stderr)
        // The run's summary and report still say what went in (kind 8: the files are stored).
        XCTAssertTrue(add.stderr.contains("added "), add.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: index.appendingPathComponent("ingest-report.json"))) as! [String: Any]
        XCTAssertTrue((report["index_error"] as? String)?.contains("needs at least 256 vectors") == true, "\(report)")
        assertNoFaissText(add.stderr)
        XCTAssertEqual(try stats(index)["index_type"] as? String, "Flat")
        let later = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", images])
        XCTAssertEqual(later.status, 0, later.stderr)
        let rebuild = try Kestrel.run(["index", "rebuild", "--index", index.path])
        XCTAssertEqual(rebuild.status, 0, rebuild.stderr)
        XCTAssertTrue(rebuild.stderr.contains("rebuilt Flat"), rebuild.stderr)  // write-command summaries go to stderr
        assertNoFaissText(rebuild.stderr)
    }
}
