import Foundation
import KestrelTestSupport
import KestrelModels
@testable import KestrelTraining
import XCTest

/// The scene renderer's boxes, the held-out combinations, and the manifest format.
final class DataScenesTests: XCTestCase {
    /// Each object's drawn pixels lie inside its box, and the box is tight to within 1 pixel.
    func testObjectPixelsLieInsideTightBoxes() {
        var rng = TrainingRNG(seed: 11)
        for shape in SceneShape.allCases {
            for _ in 0..<6 {
                let r = 6 + Double(rng.nextUnitFloat()) * 60
                let cx = r + 1 + Double(rng.nextUnitFloat()) * (222 - 2 * r), cy = r + 1 + Double(rng.nextUnitFloat()) * (222 - 2 * r)
                let o = SceneObject(shape: shape, colour: SceneColour.all[0], texture: .solid, cx: cx, cy: cy, r: r)
                var bgRNG = TrainingRNG(seed: 0)
                var canvas = SceneCanvas(width: 224, height: 224, background: .white, rng: &bgRNG)
                canvas.draw(o)
                let px = canvas.rgb8
                var minX = 224, minY = 224, maxX = -1, maxY = -1
                for y in 0..<224 { for x in 0..<224 where px[(y * 224 + x) * 3 + 1] != 255 {
                    minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
                } }
                let b = o.box
                XCTAssertGreaterThanOrEqual(Double(minX), b[0].rounded(.down), "\(shape)")
                XCTAssertGreaterThanOrEqual(Double(minY), b[1].rounded(.down), "\(shape)")
                XCTAssertLessThan(Double(maxX), b[2].rounded(.up), "\(shape)")
                XCTAssertLessThan(Double(maxY), b[3].rounded(.up), "\(shape)")
                XCTAssertLessThanOrEqual(Double(minX) - b[0], 1, "\(shape) left")
                XCTAssertLessThanOrEqual(Double(minY) - b[1], 1, "\(shape) top")
                XCTAssertLessThanOrEqual(b[2] - Double(maxX + 1), 1, "\(shape) right")
                XCTAssertLessThanOrEqual(b[3] - Double(maxY + 1), 1, "\(shape) bottom")
            }
        }
    }

    func testHeldOutCombinationsNeverInTrainingAndAlwaysInHeldOutScenes() {
        var kinds = [String: Int]()
        for i in 0..<3000 {
            let s = ScenesSource.generate(index: i, heldOut: false, seed: 3)
            kinds[s.kind, default: 0] += 1
            for o in s.objects { XCTAssertFalse(ScenesSource.isHeldOut(o.shape, o.colour.name), "train scene \(i): \(o.colour.name) \(o.shape)") }
            for o in s.objects { let b = o.box; XCTAssertTrue(b[0] >= 0 && b[1] >= 0 && b[2] <= 224 && b[3] <= 224, "scene \(i) box \(b)") }
        }
        XCTAssertGreaterThan(kinds["single"] ?? 0, 1000)
        XCTAssertGreaterThan(kinds["multi"] ?? 0, 1000)
        for i in 0..<400 {
            let s = ScenesSource.generate(index: i, heldOut: true, seed: 3)
            XCTAssertTrue(s.objects.contains { ScenesSource.isHeldOut($0.shape, $0.colour.name) }, "held-out scene \(i)")
            if s.kind == "single" { XCTAssertEqual(s.objects.count, 1) }
        }
    }

    /// A single object's captions are factorised: at least half name the shape without its colour
    /// (so soft-label targets join every colour's triangles), one fills an ensemble prompt with the
    /// colour alone (the form zero-shot colour classification uses), none states the wrong size
    /// (the ensemble's "a photo of the small {}." on a large object), "an" before a vowel in
    /// Kestrel's own phrases; and the smallest single object is about two 32-pixel patches across.
    /// Fails on the captions and radii of data built before session 18 (one shape-only caption in
    /// eight, radius 18) and on session 18's captions (no colour-alone ensemble prompt).
    func testSingleObjectCaptionsNameTheShapeApartFromTheColour() {
        var singles = 0
        for heldOut in [false, true] {
            for i in 0..<800 {
                let s = ScenesSource.generate(index: i, heldOut: heldOut, seed: 5)
                guard s.kind == "single", let shape = s.attributes["shape"], let colour = s.attributes["colour"],
                      let size = s.attributes["size"] else { continue }
                singles += 1
                let wrongSize = size == "large" ? "small" : "large"
                var shapeOnly = 0
                for c in s.captions {
                    let words = c.lowercased().split(whereSeparator: { !$0.isLetter }).map(String.init)
                    if words.contains(shape) && !words.contains(colour) { shapeOnly += 1 }
                    XCTAssertFalse(words.contains(wrongSize), "scene \(i) (\(size)): \(c)")
                    // Kestrel's own phrases say "an orange"; ensemble templates ("a photo of a {}.", ending
                    // in ".") are filled verbatim, as the zero-shot evaluation fills them.
                    if !c.hasSuffix(".") { XCTAssertFalse(c.hasPrefix("a orange") || c.contains(" a orange"), c) }
                }
                XCTAssertGreaterThanOrEqual(2 * shapeOnly, s.captions.count, "scene \(i): \(s.captions)")
                XCTAssertTrue(s.captions.contains { $0.contains(colour) && $0.contains(shape) }, "scene \(i): \(s.captions)")
                // The colour alone, in a prompt of the ensemble zero-shot colour classification uses.
                XCTAssertTrue(s.captions.contains { c in ScenesSource.sizeFreeTemplates.contains { PromptTemplates.fill($0, with: colour) == c } },
                              "scene \(i): \(s.captions)")
                XCTAssertGreaterThanOrEqual(s.objects[0].r, ScenesSource.singleSmallRadius.lowerBound, "scene \(i)")
                XCTAssertGreaterThanOrEqual(s.objects[0].r, 30, "scene \(i)")
            }
        }
        XCTAssertGreaterThan(singles, 600)
    }

    func testRelationsPlaceObjectsOnTheNamedSide() {
        for i in 0..<2000 {
            let s = ScenesSource.generate(index: i, heldOut: false, seed: 9)
            guard let rel = s.attributes["relation"] else { continue }
            XCTAssertTrue(s.captions[0].contains(rel))
        }
    }

    func testManifestLineRoundTrip() throws {
        let e = ManifestEntry(path: "scenes/train/000001.png", captions: ["a red circle", "x, \"quoted\""], split: "train", source: "scenes",
                              licence: "CC0-1.0", label: "red circle", attributes: ["shape": "circle", "colour": "red"],
                              boxes: [ManifestBox(shape: "circle", colour: "red", box: [1.5, 2, 30.25, 40])], sha256: String(repeating: "a", count: 64))
        let line = try JSONEncoder().encode(e)
        XCTAssertFalse(line.contains(0x0A))
        XCTAssertEqual(try JSONDecoder().decode(ManifestEntry.self, from: line), e)
        let dir = Fixtures.temporaryDirectory("manifest")
        let url = dir.appendingPathComponent("manifest.jsonl")
        try (line + Data([0x0A]) + line + Data([0x0A])).write(to: url)
        XCTAssertEqual(try DataBuilder.readManifest(url), [e, e])
        try Data("{\"path\": 1}\n".utf8).write(to: url)
        XCTAssertThrowsError(try DataBuilder.readManifest(url)) { XCTAssertTrue("\($0)".contains("line 1"), "\($0)") }
    }

    /// The one manifest reader counts blank lines in its line numbers and refuses paths that
    /// leave the data folder and entries without captions, naming the line.
    func testManifestReaderRefusesEscapingPathsAndNoCaptionsNamingTheLine() throws {
        let dir = Fixtures.temporaryDirectory("manifest-checks")
        let url = dir.appendingPathComponent("manifest.jsonl")
        func entry(_ path: String, _ captions: [String] = ["a cat"]) throws -> String {
            String(decoding: try JSONEncoder().encode(ManifestEntry(path: path, captions: captions, split: "train", source: "emoji", licence: "MIT")), as: UTF8.self)
        }
        func message(_ lines: [String]) throws -> String {
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
            do { _ = try DataBuilder.readManifest(url); return "" } catch { return "\(error)" }
        }
        let good = try entry("emoji/train/a.png")
        XCTAssertEqual(try message([good, "", good]), "")
        let third = try message([good, "", "{\"path\": 1}"])
        XCTAssertTrue(third.contains("\(url.path) line 3:"), third)
        for bad in ["../outside.png", "emoji/../../x.png", "/etc/passwd", ""] {
            let m = try message([good, "", "  ", try entry(bad)])
            XCTAssertTrue(m.contains("line 4: field path "), "\(bad): \(m)")
        }
        let m = try message([try entry("emoji/train/b.png", [])])
        XCTAssertTrue(m.contains("line 1: field captions is empty"), m)
        XCTAssertThrowsError(try DataLoader.readManifest(url), "the loader reads through the same reader")
    }

    func testDpkgStatusParsing() {
        let status = "Package: openclipart-png\nStatus: install ok installed\nVersion: 1:0.18+dfsg-15\n\nPackage: other\nStatus: install ok installed\nVersion: 1\n"
        XCTAssertEqual(DataBuilder.dpkgVersions(status, wanted: ["openclipart-png"]), ["openclipart-png": "1:0.18+dfsg-15"])
    }
}
