import Foundation
import KestrelTestSupport
@testable import KestrelTraining
import XCTest

/// The grounding scenes: the rules every scene keeps (2-4 objects, a unique target, distractors
/// sharing exactly its shape or its colour, no overlap, boxes inside), the disjoint seed
/// streams, the shape-colour restrictions, determinism, and exact boxes in the drawn pixels.
final class GroundingScenesTests: XCTestCase {
    func scenes(_ n: Int, split: GroundingScenes.Split = .heldout, seed: UInt64 = 0,
                options: GroundingScenes.Options = .init()) -> [GroundingScenes.Scene] {
        (0..<n).map { GroundingScenes.generate(index: $0, split: split, seed: seed, options: options) }
    }

    func testEverySceneKeepsTheRules() {
        var kinds: [GroundingScenes.Distractors: Int] = [:], counts: [Int: Int] = [:]
        for options in [GroundingScenes.Options(), .init(combinations: .heldout), .init(combinations: .excludeHeldout, textureInQuery: true)] {
            for s in scenes(400, seed: 7, options: options) {
                let objects = s.objects, t = objects[s.target]
                XCTAssertTrue((2...4).contains(objects.count), "scene \(s.index): \(objects.count) objects")
                counts[objects.count, default: 0] += 1
                kinds[s.distractors, default: 0] += 1
                XCTAssertEqual(objects.filter { $0.shape == t.shape && $0.colour == t.colour }.count, 1, "scene \(s.index): the target is unique")
                let distractors = objects.enumerated().filter { $0.offset != s.target }.map(\.element)
                for d in distractors {
                    XCTAssertTrue((d.shape == t.shape) != (d.colour == t.colour), "scene \(s.index): a distractor shares exactly one of shape and colour")
                }
                let sameShape = distractors.filter { $0.shape == t.shape }.count, sameColour = distractors.filter { $0.colour == t.colour }.count
                switch s.distractors {
                case .sameShape: XCTAssertEqual(sameShape, distractors.count, "scene \(s.index)")
                case .sameColour: XCTAssertEqual(sameColour, distractors.count, "scene \(s.index)")
                case .mixed:
                    XCTAssertGreaterThanOrEqual(objects.count, 3)
                    XCTAssertTrue(sameShape >= 1 && sameColour >= 1, "scene \(s.index): mixed has both kinds")
                }
                for (i, o) in objects.enumerated() {
                    let b = o.box
                    XCTAssertTrue(b[0] >= 0 && b[1] >= 0 && b[2] <= 224 && b[3] <= 224, "scene \(s.index): box \(b) inside the picture")
                    XCTAssertTrue((16...40).contains(o.r), "scene \(s.index): radius \(o.r)")
                    for p in objects[(i + 1)...] {
                        XCTAssertTrue(GroundingScenes.apart(b, p.box), "scene \(s.index): boxes \(b) and \(p.box) overlap")
                    }
                }
                let words = (options.textureInQuery && t.texture != .solid ? "\(t.texture.rawValue) " : "") + t.colour.name
                XCTAssertEqual(s.query, "\(DataText.article(words)) \(words) \(t.shape.rawValue)")
                XCTAssertEqual(s.targetIsHeldOutCombination, ScenesSource.isHeldOut(t.shape, t.colour.name))
                switch options.combinations {
                case .any: break
                case .heldout: XCTAssertTrue(s.targetIsHeldOutCombination, "scene \(s.index)")
                case .excludeHeldout:
                    XCTAssertFalse(objects.contains { ScenesSource.isHeldOut($0.shape, $0.colour.name) }, "scene \(s.index): no held-out pair")
                }
            }
        }
        XCTAssertEqual(Set(counts.keys), [2, 3, 4], "all object counts occur")
        XCTAssertEqual(Set(kinds.keys), Set(GroundingScenes.Distractors.allCases), "all distractor kinds occur")
        let any = scenes(500)
        XCTAssertTrue(any.contains { $0.targetIsHeldOutCombination } && any.contains { !$0.targetIsHeldOutCombination },
                      "the default mixes held-out and seen pairs")
    }

    func testScenesAndPicturesAreDeterministic() {
        for i in [0, 1, 17, 499] {
            let a = GroundingScenes.generate(index: i, seed: 3), b = GroundingScenes.generate(index: i, seed: 3)
            XCTAssertEqual(GroundingScenes.jsonLine(a, path: "x.png"), GroundingScenes.jsonLine(b, path: "x.png"))
            XCTAssertEqual(GroundingScenes.render(a), GroundingScenes.render(b))
        }
        XCTAssertNotEqual(GroundingScenes.jsonLine(GroundingScenes.generate(index: 0, seed: 3), path: "x.png"),
                          GroundingScenes.jsonLine(GroundingScenes.generate(index: 0, seed: 4), path: "x.png"), "the seed matters")
    }

    func testHeldOutStreamIsDisjointFromTheTrainingStreams() {
        // The grounding splits' generator seeds never meet.
        let n = 200_000
        var train = Set<UInt64>()
        for i in 0..<n { train.insert(GroundingScenes.rngSeed(split: .train, seed: 0, index: i)) }
        XCTAssertEqual(train.count, n)
        for i in 0..<n { XCTAssertFalse(train.contains(GroundingScenes.rngSeed(split: .heldout, seed: 0, index: i)), "index \(i)") }
        // ScenesSource (the training scenes of `kestrel data build`) seeds with seed ^ index·φ ^ 0x5CE4E.
        var scenesSource = Set<UInt64>()
        for i in 0..<n { scenesSource.insert(0 ^ (UInt64(i) &* 0x9E37_79B9_7F4A_7C15) ^ 0x5CE4E) }
        for i in 0..<n { XCTAssertFalse(scenesSource.contains(GroundingScenes.rngSeed(split: .heldout, seed: 0, index: i)), "index \(i)") }
        // And the layouts differ: no held-out scene places an object where a training scene does.
        let trainObjects = Set((0..<300).flatMap { i in
            ScenesSource.generate(index: i, heldOut: false, seed: 0).objects.map { "\($0.cx),\($0.cy),\($0.r)" }
        } + (0..<300).flatMap { i in GroundingScenes.generate(index: i, split: .train, seed: 0).objects.map { "\($0.cx),\($0.cy),\($0.r)" } })
        for s in scenes(300) { for o in s.objects { XCTAssertFalse(trainObjects.contains("\(o.cx),\(o.cy),\(o.r)"), "scene \(s.index)") } }
    }

    /// On a white background every pixel outside all boxes stays white and each box's edges touch drawn pixels.
    func testBoxesAreExactInTheDrawnPixels() {
        let white = scenes(120).filter { $0.background == .white }.prefix(12)
        XCTAssertGreaterThan(white.count, 5)
        for s in white {
            let px = GroundingScenes.render(s)
            func drawn(_ x: Int, _ y: Int) -> Bool { (0..<3).contains { px[(y * 224 + x) * 3 + $0] != 255 } }
            let boxes = s.objects.map(\.box)
            for y in 0..<224 { for x in 0..<224 {
                let inside = boxes.contains { b in Double(x) + 1 > b[0] && Double(x) < b[2] && Double(y) + 1 > b[1] && Double(y) < b[3] }
                if !inside { XCTAssertFalse(drawn(x, y), "scene \(s.index): pixel (\(x), \(y)) drawn outside every box") }
            } }
            for b in boxes {
                let x0 = Int(b[0]), x1 = min(223, Int(b[2])), y0 = Int(b[1]), y1 = min(223, Int(b[3]))
                XCTAssertTrue((y0...y1).contains { y in (0...2).contains { d in drawn(x0 + d, y) } }, "scene \(s.index): left edge of \(b)")
                XCTAssertTrue((y0...y1).contains { y in (0...2).contains { d in drawn(x1 - d, y) } }, "scene \(s.index): right edge of \(b)")
                XCTAssertTrue((x0...x1).contains { x in (0...2).contains { d in drawn(x, y0 + d) } }, "scene \(s.index): top edge of \(b)")
                XCTAssertTrue((x0...x1).contains { x in (0...2).contains { d in drawn(x, y1 - d) } }, "scene \(s.index): bottom edge of \(b)")
            }
        }
    }

    func testWriteMakesImagesAndALineAScene() throws {
        let dir = Fixtures.temporaryDirectory("grounding-scenes")
        try GroundingScenes.write(to: dir, count: 6, seed: 2, threads: 2)
        let lines = try String(contentsOf: dir.appendingPathComponent("grounding.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 6)
        for (i, line) in lines.enumerated() {
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            XCTAssertEqual(o["format"] as? String, "kestrel-grounding")
            XCTAssertEqual(o["version"] as? Int, 1)
            XCTAssertEqual(o["index"] as? Int, i)
            XCTAssertEqual(o["split"] as? String, "heldout")
            let scene = GroundingScenes.generate(index: i, seed: 2)
            XCTAssertEqual(o["query"] as? String, scene.query)
            let box = try XCTUnwrap(o["box"] as? [Double])
            for k in 0..<4 { XCTAssertEqual(box[k], scene.targetBox[k], accuracy: 0.0005) }
            XCTAssertEqual((o["objects"] as? [Any])?.count, scene.objects.count)
            XCTAssertEqual(o["target"] as? Int, scene.target)
            let path = try XCTUnwrap(o["path"] as? String)
            let png = try Data(contentsOf: dir.appendingPathComponent(path))
            XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        }
        XCTAssertThrowsError(try GroundingScenes.write(to: dir, count: 1, seed: 2)) { e in
            XCTAssertTrue("\(e)".contains("grounding.jsonl"), "\(e)")
        }
    }
}
