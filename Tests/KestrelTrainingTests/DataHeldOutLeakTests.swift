import Foundation
import KestrelImage
import KestrelTestSupport
@testable import KestrelTraining
import XCTest

/// Held-out data never reaches training by another road: a picture the package holds under
/// several paths falls on one side of the split (before: 210 of 807 held-out openclipart
/// pictures were byte-identical to training ones), and a held-out shape-colour combination named
/// by another source is held out too (before: the emoji "large blue circle" was in training).
final class DataHeldOutLeakTests: XCTestCase {
    func testCaptionsNamingAHeldOutCombinationAreRecognised() {
        XCTAssertTrue(ScenesSource.namesHeldOutCombination("an emoji of a large blue circle"))
        XCTAssertTrue(ScenesSource.namesHeldOutCombination("Red squares"))
        XCTAssertTrue(ScenesSource.namesHeldOutCombination("a green dotted triangle"))
        XCTAssertFalse(ScenesSource.namesHeldOutCombination("a blue square and a red circle"))
        XCTAssertFalse(ScenesSource.namesHeldOutCombination("a red apple"))
    }

    func testCopiesOfOnePictureFallOnOneSideOfTheSplit() throws {
        let root = Fixtures.temporaryDirectory("openclipart-copies")
        for folder in ["animals", "computer", "food"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        // 30 pictures, each filed twice: under animals/ and under computer/ or again under animals/.
        for i in 0..<30 {
            let pixels = (0..<(8 * 8 * 3)).map { UInt8(($0 * 7 + i * 31) % 256) }
            let png = try PNGEncoder.encode(pixels: pixels, width: 8, height: 8, channels: 3)
            try Data(png).write(to: root.appendingPathComponent("animals/pic_\(i).png"))
            let other = i % 2 == 0 ? "computer/copy_\(i).png" : "animals/again_\(i).png"
            try Data(png).write(to: root.appendingPathComponent(other))
            let distinct = try PNGEncoder.encode(pixels: pixels.map { 255 - $0 }, width: 8, height: 8, channels: 3)
            try Data(distinct).write(to: root.appendingPathComponent("food/single_\(i).png"))
        }
        let out = Fixtures.temporaryDirectory("openclipart-out")
        let output = try OpenClipartSource.build(sink: ImageSink(root: out), seed: 0, threads: 2, rootPath: root.path,
                                                 progress: { _ in })
        XCTAssertEqual(output.entries.count, 90)
        var splits = [String: Set<String>]()
        for e in output.entries { splits[try XCTUnwrap(e.sha256), default: []].insert(e.split) }
        XCTAssertEqual(splits.count, 60)
        XCTAssertTrue(splits.values.allSatisfy { $0.count == 1 }, "a picture is on both sides of the split")
        XCTAssertTrue(splits.values.contains([ "heldout"]), "some pictures are held out")
        // The category list keeps one copy per picture and none filed under two top-level folders.
        let rows = try XCTUnwrap(output.evalFiles["openclipart-heldout-category.csv"]).rows
        let listed = rows.map { $0[0] }
        let shaOf = Dictionary(output.entries.map { ($0.path, $0.sha256!) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(Set(listed.map { shaOf[$0]! }).count, listed.count)
        XCTAssertFalse(rows.contains { $0[0].contains("/computer/") })
    }

    func testAHeldOutCombinationNamedByAnEmojiIsNotTrainedOn() throws {
        let out = Fixtures.temporaryDirectory("kestrel-data").appendingPathComponent("d")
        let r = try Kestrel.run(["data", "build", "--only", "emoji", "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let manifest = try DataBuilder.readManifest(out.appendingPathComponent("manifest.jsonl"))
        XCTAssertGreaterThan(manifest.count, 1000)
        let leaks = manifest.filter { $0.split == "train" && $0.captions.contains(where: ScenesSource.namesHeldOutCombination) }
        XCTAssertEqual(leaks.map(\.path), [])
        XCTAssertTrue(manifest.contains { $0.split == "heldout" && $0.captions.contains { $0.contains("blue circle") } })
    }
}
