import Foundation
import KestrelTestSupport
import XCTest

/// `--precision fp32|bf16|int8` on every command that runs a model, and `kestrel bench`.
final class PrecisionOptionTests: XCTestCase {
    let model = "Tests/Fixtures/models/hf-tiny"
    let image = "Tests/Fixtures/images/exif_upright.png"

    func testABadValueIsAUsageErrorNamingTheOptionOnEveryModelCommand() throws {
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix").path
        let commands: [[String]] = [
            ["embed", "--model", model, "--text", "a dog"],
            ["label", "--model", model, "--labels", "cat,dog", image],
            ["index", "add", "--index", index, "--model", model, image],
            ["search", "--index", index, "--text", "a dog"],
            ["info", "--model", model],
            ["bench", "--model", model],
        ]
        for args in commands {
            let r = try Kestrel.run(args + ["--precision", "fp16"])
            XCTAssertEqual(r.status, 64, "\(args[0]): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--precision must be fp32, bf16 or int8, got 'fp16'"), "\(args[0]): \(r.stderr)")
        }
    }

    /// The precision used is reported; when it is not the one asked for, a warning says why.
    func testInfoReportsThePrecisionUsedAndWarnsOnAFallback() throws {
        for asked in ["fp32", "bf16", "int8"] {
            let r = try Kestrel.run(["info", "--model", model, "--json", "--precision", asked])
            XCTAssertEqual(r.status, 0, r.stderr)
            let info = try XCTUnwrap(r.jsonLines().first)
            let used = try XCTUnwrap(info["precision"] as? String)
            XCTAssertNotNil(info["gemm_backend"] as? String)
            if used == asked {
                XCTAssertFalse(r.stderr.contains("warning:"), r.stderr)
            } else {
                XCTAssertEqual(used, "fp32")
                XCTAssertTrue(r.stderr.contains("warning:") && r.stderr.contains(asked), r.stderr)
            }
        }
    }

    func testEmbedAtFP32IsTheDefault() throws {
        let a = try Kestrel.run(["embed", "--model", model, "--text", "a dog", "--image", image])
        let b = try Kestrel.run(["embed", "--model", model, "--text", "a dog", "--image", image, "--precision", "fp32"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.stdout, b.stdout)
    }

    /// `index add` records the precision that made the vectors; another one is refused with a
    /// hint; `search` embeds its query at any precision.
    func testAnIndexKeepsThePrecisionItWasBuiltWith() throws {
        let info = try Kestrel.run(["info", "--model", model, "--json", "--precision", "int8"])
        let int8Runs = (try info.jsonLines().first?["precision"] as? String) == "int8"
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix").path
        let add = try Kestrel.run(["index", "add", "--index", index, "--model", model, "--precision", "int8", "--quiet", image])
        XCTAssertEqual(add.status, 0, add.stderr)
        let stats = try Kestrel.run(["index", "stats", "--index", index, "--json"])
        XCTAssertEqual(try stats.jsonLines().first?["precision"] as? String, int8Runs ? "int8" : "fp32", "the precision used is recorded")
        let again = try Kestrel.run(["index", "add", "--index", index, "--model", model, "--precision", "fp32", "--quiet", image])
        if int8Runs {
            XCTAssertEqual(again.status, 1, again.stderr)
            XCTAssertTrue(again.stderr.contains("made at --precision int8"), again.stderr)
            XCTAssertTrue(again.stderr.contains("HINT: pass --precision int8"), again.stderr)
        } else {
            XCTAssertEqual(again.status, 0, "int8 fell back to fp32, which the index records: \(again.stderr)")
        }
        for p in ["fp32", "bf16", "int8"] {
            let s = try Kestrel.run(["search", "--index", index, "--text", "a dog", "-k", "1", "--json", "--precision", p])
            XCTAssertEqual(s.status, 0, s.stderr)
            XCTAssertEqual(try s.jsonLines().count, 1)
        }
    }

    /// An index made at a precision that cannot run in this process (here: forced onto the fp32-only
    /// OpenBLAS backend) is refused with what to do, not with a hint to pass the option given.
    func testAddingAtAPrecisionThatCannotRunHereSaysSo() throws {
        let info = try Kestrel.run(["info", "--model", model, "--json", "--precision", "bf16"])
        guard (try info.jsonLines().first?["precision"] as? String) == "bf16" else {
            throw XCTSkip("this processor does not run bf16, so no bf16 index can be made here")
        }
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix").path
        let add = try Kestrel.run(["index", "add", "--index", index, "--model", model, "--precision", "bf16", "--quiet", image])
        XCTAssertEqual(add.status, 0, add.stderr)
        let again = try Kestrel.run(["index", "add", "--index", index, "--model", model, "--precision", "bf16", "--quiet", image],
                                    environment: ["KESTREL_GEMM": "openblas"])
        XCTAssertEqual(again.status, 1, again.stderr)
        XCTAssertTrue(again.stderr.contains("cannot run here"), again.stderr)
        XCTAssertTrue(again.stderr.contains("on a machine that runs bf16"), again.stderr)
        XCTAssertFalse(again.stderr.contains("HINT: pass --precision bf16"), again.stderr)
    }

    func testBenchJSONHasEveryKeyWithPositiveFigures() throws {
        let r = try Kestrel.run(["bench", "--model", model, "--json", "--repeats", "1", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try XCTUnwrap(r.jsonLines().first)
        for key in ["image_per_s_batch32", "image_ms_batch1", "text_ms_short", "text_ms_77", "peak_rss_mb", "load_s"] {
            let v = try XCTUnwrap(o[key] as? Double, "\(key) missing: \(r.stdout)")
            XCTAssertGreaterThan(v, 0, key)
        }
        XCTAssertEqual(o["precision"] as? String, "fp32")
        XCTAssertEqual(o["threads"] as? Int, 1)
        // "a photo of a dog" is 7 tokens with CLIP's vocabulary; the tiny model's own is smaller.
        XCTAssertGreaterThanOrEqual(o["text_tokens_short"] as? Int ?? 0, 3)
        XCTAssertEqual(o["text_tokens_long"] as? Int, 77, "the long text fills the context")
        let sweep = try XCTUnwrap(o["text_ms_by_tokens"] as? [String: Double])
        XCTAssertEqual(sweep.count, 4, "\(sweep)")
        XCTAssertTrue(sweep.values.allSatisfy { $0 > 0 })
        XCTAssertNotNil(o["gemm_backend"] as? String)
        XCTAssertNotNil(o["cpu"] as? String)
        let plain = try Kestrel.run(["bench", "--model", model, "--repeats", "1"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertTrue(plain.stdout.contains("images/s, batch 32"), plain.stdout)
        XCTAssertTrue(plain.stdout.contains("peak resident memory (MB)"), plain.stdout)
    }

    /// A huge --threads was a segmentation fault inside libgomp; it is a usage error.
    func testBenchRefusesAThreadCountOutOfRange() throws {
        for bad in ["0", "1025", "100000"] {
            let r = try Kestrel.run(["bench", "--model", model, "--json", "--repeats", "1", "--threads", bad])
            XCTAssertEqual(r.status, 64, "\(bad): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--threads must be between 1 and 1024, got \(bad)"), r.stderr)
        }
    }

    /// --repeats 100000000 would run for days: a usage error, as 0 is.
    func testBenchRefusesARepeatCountOutOfRange() throws {
        for bad in ["0", "1001", "100000000"] {
            let r = try Kestrel.run(["bench", "--model", model, "--json", "--repeats", bad])
            XCTAssertEqual(r.status, 64, "\(bad): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--repeats must be between 1 and 1000, got \(bad)"), r.stderr)
        }
    }
}
