import Foundation
import KestrelTestSupport
import XCTest

/// Kind 11 of issue 6: `--orientation exif|ignore` on every command that reads images.
/// `exif_png_o6.png` stores the picture of `exif_upright.png` rotated, with EXIF Orientation 6.
final class OrientationOptionTests: XCTestCase {
    let model = "Tests/Fixtures/models/hf-tiny"
    let upright = "Tests/Fixtures/images/exif_upright.png"
    let rotated = "Tests/Fixtures/images/exif_png_o6.png"

    func embeddings(_ extra: [String]) throws -> [[Float]] {
        let r = try Kestrel.run(["embed", "--model", model, "--image", upright, "--image", rotated] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try r.jsonLines().map { ($0["embedding"] as? [NSNumber] ?? []).map(\.floatValue) }
        guard rows.count == 2 else { XCTFail("embed wrote \(rows.count) rows: \(r.stderr)"); throw CocoaError(.featureUnsupported) }
        return rows
    }

    func testKind11_EmbedTurnsPhotosUprightByDefaultAndIgnoreKeepsThemAsStored() throws {
        let byDefault = try embeddings([])
        XCTAssertEqual(byDefault[0], byDefault[1], "the default (exif) sees the same upright picture")
        XCTAssertEqual(try embeddings(["--orientation", "exif"]), byDefault)
        let ignored = try embeddings(["--orientation", "ignore"])
        XCTAssertEqual(ignored[0], byDefault[0])
        XCTAssertLessThan(cosine(ignored[0], ignored[1]), 0.9999, "ignore embeds the stored (sideways) pixels")
        let bad = try Kestrel.run(["embed", "--model", model, "--image", upright, "--orientation", "sideways"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("orientation"), bad.stderr)
    }

    func testKind11_LabelIndexAddAndSearchTakeTheOption() throws {
        func label(_ extra: [String]) throws -> [[String: Any]] {
            let r = try Kestrel.run(["label", "--model", model, "--labels", "cat,dog,car", "--json", upright, rotated] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            let rows = try r.jsonLines()
            guard rows.count == 2 else { XCTFail("label wrote \(rows.count) rows: \(r.stderr)"); throw CocoaError(.featureUnsupported) }
            return rows
        }
        let exif = try label([])
        XCTAssertEqual(exif[0]["scores"] as? [String: Double], exif[1]["scores"] as? [String: Double])
        let ignored = try label(["--orientation", "ignore"])
        XCTAssertNotEqual(ignored[0]["scores"] as? [String: Double], ignored[1]["scores"] as? [String: Double])

        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        let add = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--orientation", "exif", upright])
        XCTAssertEqual(add.status, 0, add.stderr)
        func topScore(_ extra: [String]) throws -> Double {
            let r = try Kestrel.run(["search", "--index", index.path, "--image", rotated, "-k", "1", "--json"] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            return try XCTUnwrap(r.jsonLines().first?["score"] as? Double)
        }
        XCTAssertGreaterThan(try topScore([]), 0.99999)
        // An image query made with the other setting would not compare with the stored vectors:
        // it is refused (see testKind11_AnIndexKeepsTheOrientationItWasBuiltWith); an index built
        // with `ignore` compares stored pixels.
        let ignoreIndex = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        let addIgnore = try Kestrel.run(["index", "add", "--index", ignoreIndex.path, "--model", model, "--orientation", "ignore", upright])
        XCTAssertEqual(addIgnore.status, 0, addIgnore.stderr)
        let r = try Kestrel.run(["search", "--index", ignoreIndex.path, "--image", rotated, "-k", "1", "--json", "--orientation", "ignore"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertLessThan(try XCTUnwrap(r.jsonLines().first?["score"] as? Double), 0.9999)
    }

    func testKind11_AnIndexKeepsTheOrientationItWasBuiltWith() throws {
        let index = Fixtures.temporaryDirectory("kestrel-index").appendingPathComponent("ix")
        func stats() throws -> [String: Any] {
            let r = try Kestrel.run(["index", "stats", "--index", index.path, "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            return try r.jsonLines().first ?? [:]
        }
        let add = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", upright])
        XCTAssertEqual(add.status, 0, add.stderr)
        XCTAssertEqual(try stats()["orientation"] as? String, "exif", "the default is recorded")

        // Adding with the other setting is refused before anything is stored.
        let mixed = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", "--orientation", "ignore", rotated])
        XCTAssertEqual(mixed.status, 1, mixed.stderr)
        XCTAssertTrue(mixed.stderr.contains("made with --orientation exif, this run uses --orientation ignore"), mixed.stderr)
        XCTAssertTrue(mixed.stderr.contains("pass --orientation exif"), mixed.stderr)
        XCTAssertEqual(try stats()["items"] as? Int, 1)
        XCTAssertEqual(try stats()["orientation"] as? String, "exif")

        let search = try Kestrel.run(["search", "--index", index.path, "--image", rotated, "--orientation", "ignore"])
        XCTAssertEqual(search.status, 1, search.stderr)
        XCTAssertTrue(search.stderr.contains("this run uses --orientation ignore"), search.stderr)
        XCTAssertEqual(search.stdout, "")
        // A text query has no orientation: it works whatever the option says.
        let text = try Kestrel.run(["search", "--index", index.path, "--text", "a photo", "--orientation", "ignore"])
        XCTAssertEqual(text.status, 0, text.stderr)

        let same = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", "--orientation", "exif", rotated])
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertEqual(try stats()["paths"] as? Int, 2)
    }
}
