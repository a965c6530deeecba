import Foundation
import KestrelDefaultModel
import KestrelEngine
import KestrelImage
import KestrelTraining
import XCTest
@testable import KestrelGrounding

/// A measurement, not a test: skipped unless KESTREL_GROUNDING_MEASURE=N (scenes) is set. With the
/// default model (or $KESTREL_MODEL) on N held-out rendered multi-object scenes, prints per dense
/// method and text embedding: the pointing game (the heat map's maximum inside a box of the queried
/// object, "a {colour} {shape}"), IoU >= 0.5 of the top box at several mask levels, the top-box
/// score of present and absent queries (for the default threshold), and resize against pad on
/// wide pictures (two scenes side by side). docs/grounding-dense.md records the figures.
///
///     KESTREL_GROUNDING_MEASURE=200 swift test --skip-build --disable-swift-testing \
///         --filter KestrelGroundingTests.DensePointingGameMeasurement
final class DensePointingGameMeasurement: XCTestCase {
    struct Query { var text: String; var boxes: [PixelBox] }

    func testMeasure() throws {
        guard let n = ProcessInfo.processInfo.environment["KESTREL_GROUNDING_MEASURE"].flatMap(Int.init), n > 0 else {
            throw XCTSkip("set KESTREL_GROUNDING_MEASURE=<scenes> to measure")
        }
        let seed: UInt64 = 2026
        let folder = try XCTUnwrap(DefaultModel.locate())
        let embedder = try Embedder(modelDirectory: folder)
        print("model: \(folder.path)")
        // Held-out multi-object scenes (2-4 objects).
        var scenes: [(DecodedImage, [Query], [String])] = []
        var i = 1
        let shapes = SceneShape.allCases.map(\.rawValue), colours = SceneColour.all.map(\.name)
        while scenes.count < n {
            let s = ScenesSource.generate(index: i, heldOut: true, seed: seed)
            i += 1
            guard (2...4).contains(s.objects.count) else { continue }
            let px = ScenesSource.render(s, seed: seed ^ 1, index: i - 1)
            var queries: [String: [PixelBox]] = [:]
            for o in s.objects {
                let b = o.box
                queries["a \(o.colour.name) \(o.shape.rawValue)", default: []].append(PixelBox(x0: b[0], y0: b[1], x1: b[2], y1: b[3]))
            }
            // Absent queries: a combination not in the scene.
            var absent: [String] = []
            var k = i
            while absent.count < 2 {
                let t = "a \(colours[k % colours.count]) \(shapes[(k / colours.count) % shapes.count])"
                if queries[t] == nil && !absent.contains(t) { absent.append(t) }
                k = k &* 31 &+ 7
            }
            scenes.append((DecodedImage(width: 224, height: 224, mode: .rgb, pixels: px),
                           queries.keys.sorted().map { Query(text: $0, boxes: queries[$0]!) }, absent))
        }
        let levels: [Float] = [0.3, 0.5, 0.7]
        for method in DenseMethod.allCases {
            let modes = [false, true]
            let gs = try modes.map { try DenseCLIPGrounder(embedder: embedder, method: method, promptEnsemble: $0) }
            var hits = [Int](repeating: 0, count: 2), total = 0
            var iouHits = [[Int]](repeating: [Int](repeating: 0, count: levels.count), count: 2)
            var present: [[Float]] = [[], []], missing: [[Float]] = [[], []]
            for (image, queries, absent) in scenes {
                let (f, grid, region) = try gs[0].patchFeatures(image)   // the same features for both text modes
                total += queries.count
                for (m, g) in gs.enumerated() {
                    let q = try queries.map { try g.queryEmbedding(.text($0.text)) }
                    let a = try absent.map { try g.queryEmbedding(.text($0)) }
                    let maps = DenseCLIPGrounder.heatMaps(features: f, grid: grid, region: region, queries: q + a)
                    for (j, query) in queries.enumerated() {
                        let p = maps[j].peak!
                        if query.boxes.contains(where: { $0.contains(x: p.x, y: p.y) }) { hits[m] += 1 }
                        for (l, level) in levels.enumerated() {
                            let top = BoxesFromHeatMap(relativeLevel: level).candidates(maps[j], pictureWidth: 224, pictureHeight: 224).first
                            if let top, query.boxes.contains(where: { $0.iou(top.box) >= 0.5 }) { iouHits[m][l] += 1 }
                        }
                        present[m].append(maps[j].values.max()!)
                    }
                    for j in queries.count..<maps.count { missing[m].append(maps[j].values.max()!) }
                }
            }
            for m in 0..<2 {
                // The threshold that best separates present from absent queries' top scores.
                var best: (t: Float, acc: Double) = (0, 0)
                for t in stride(from: Float(-0.2), through: 0.8, by: 0.01) {
                    let tp = Double(present[m].filter { $0 >= t }.count) / Double(present[m].count)
                    let tn = Double(missing[m].filter { $0 < t }.count) / Double(missing[m].count)
                    if (tp + tn) / 2 > best.acc { best = (t, (tp + tn) / 2) }
                }
                func median(_ v: [Float]) -> Float { v.sorted()[v.count / 2] }
                print(String(format: "%@ %@: pointing %.1f%% (%d/%d); IoU>=0.5 top box at levels %@: %@; top score present median %.3f, absent median %.3f; best threshold %.2f (balanced acc %.1f%%)",
                             method.rawValue, modes[m] ? "ensemble" : "plain", 100 * Double(hits[m]) / Double(total), hits[m], total,
                             levels.map { String($0) }.joined(separator: "/"),
                             iouHits[m].map { String(format: "%.1f%%", 100 * Double($0) / Double(total)) }.joined(separator: "/"),
                             median(present[m]), median(missing[m]), best.t, 100 * best.acc))
            }
        }
        // Resize against pad on wide pictures: scene pairs side by side (448 x 224).
        for fit in SquareFit.allCases {
            for method in [DenseMethod.clearCLIP] {
                let g = try DenseCLIPGrounder(embedder: embedder, method: method, fit: fit)
                var hits = 0, total = 0
                for pair in stride(from: 0, to: scenes.count - 1, by: 2) {
                    let (l, lq, _) = scenes[pair], (r, rq, _) = scenes[pair + 1]
                    var px = [UInt8](repeating: 0, count: 448 * 224 * 3)
                    for y in 0..<224 {
                        for x in 0..<224 { for c in 0..<3 {
                            px[(y * 448 + x) * 3 + c] = l.pixels[(y * 224 + x) * 3 + c]
                            px[(y * 448 + 224 + x) * 3 + c] = r.pixels[(y * 224 + x) * 3 + c]
                        } }
                    }
                    let wide = DecodedImage(width: 448, height: 224, mode: .rgb, pixels: px)
                    let shifted = rq.map { Query(text: $0.text, boxes: $0.boxes.map { PixelBox(x0: $0.x0 + 224, y0: $0.y0, x1: $0.x1 + 224, y1: $0.y1) }) }
                    var merged: [String: [PixelBox]] = [:]
                    for q in lq + shifted { merged[q.text, default: []] += q.boxes }
                    let texts = merged.keys.sorted()
                    let (f, grid, region) = try g.patchFeatures(wide)
                    let maps = DenseCLIPGrounder.heatMaps(features: f, grid: grid, region: region,
                                                          queries: try texts.map { try g.queryEmbedding(.text($0)) })
                    for (j, t) in texts.enumerated() {
                        total += 1
                        let p = maps[j].peak!
                        if merged[t]!.contains(where: { $0.contains(x: p.x, y: p.y) }) { hits += 1 }
                    }
                }
                print(String(format: "wide pictures, %@, %@: pointing %.1f%% (%d/%d)", fit.rawValue, method.rawValue,
                             100 * Double(hits) / Double(total), hits, total))
            }
        }
    }
}
