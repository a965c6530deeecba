import Foundation
import KestrelDefaultModel
import KestrelEngine
import KestrelImage
import KestrelKernels
import KestrelTraining
import XCTest
@testable import KestrelGrounding

/// A measurement, not a test (KESTREL_GROUNDING_VARIANTS=N scenes): pointing game of heat-map
/// variants with the default model, to see whether its patch maps are inverted (objects below the
/// background) and whether contrasting with a background prompt or a query vocabulary fixes it.
final class DenseMapVariantsMeasurement: XCTestCase {
    func testVariants() throws {
        guard let n = ProcessInfo.processInfo.environment["KESTREL_GROUNDING_VARIANTS"].flatMap(Int.init), n > 0 else {
            throw XCTSkip("set KESTREL_GROUNDING_VARIANTS=<scenes>")
        }
        let embedder = try Embedder(modelDirectory: try XCTUnwrap(DefaultModel.locate()))
        let shapes = SceneShape.allCases.map(\.rawValue), colours = SceneColour.all.map(\.name)
        let vocabulary = colours.flatMap { c in shapes.map { "a \(c) \($0)" } }
        for method in [DenseMethod.maskCLIP, .clearCLIP, .naclip] {
            let g = try DenseCLIPGrounder(embedder: embedder, method: method)
            var backgroundSum = Tensor(shape: [1, embedder.dimension], data: try ["a photo", "a picture", "an image", "a background", "a shape"]
                .map { try g.queryEmbedding(.text($0)) }.reduce([Float](repeating: 0, count: embedder.dimension)) { zip($0, $1).map(+) })
            l2Normalize(&backgroundSum)
            let background = backgroundSum.data
            let vocab = try vocabulary.map { try g.queryEmbedding(.text($0)) }
            var vocabMean = [Float](repeating: 0, count: embedder.dimension)
            for v in vocab { for c in v.indices { vocabMean[c] += v[c] / Float(vocab.count) } }
            var hits = [String: Int](), total = 0, centre = 0
            var i = 1, scenes = 0
            while scenes < n {
                let s = ScenesSource.generate(index: i, heldOut: true, seed: 2026)
                i += 1
                guard (2...4).contains(s.objects.count) else { continue }
                scenes += 1
                let px = ScenesSource.render(s, seed: 2027, index: i - 1)
                let image = DecodedImage(width: 224, height: 224, mode: .rgb, pixels: px)
                let (f, grid, region) = try g.patchFeatures(image)
                var groups: [String: [PixelBox]] = [:]
                for o in s.objects { let b = o.box; groups["a \(o.colour.name) \(o.shape.rawValue)", default: []].append(PixelBox(x0: b[0], y0: b[1], x1: b[2], y1: b[3])) }
                for (text, boxes) in groups {
                    total += 1
                    if boxes.contains(where: { $0.contains(x: 112, y: 112) }) { centre += 1 }
                    let q = try g.queryEmbedding(.text(text))
                    let maps = DenseCLIPGrounder.heatMaps(features: f, grid: grid, region: region, queries: [q, background, vocabMean])
                    func point(_ values: [Float]) -> Bool {
                        let m = HeatMap(gridWidth: grid, gridHeight: grid, values: values, region: region)
                        let p = m.peak!
                        return boxes.contains { $0.contains(x: p.x, y: p.y) }
                    }
                    let raw = maps[0].values
                    if point(raw) { hits["raw", default: 0] += 1 }
                    if point(raw.map { -$0 }) { hits["argmin", default: 0] += 1 }
                    if point(zip(raw, maps[1].values).map { $0 - $1 }) { hits["minus background prompt", default: 0] += 1 }
                    if point(zip(raw, maps[2].values).map { $0 - $1 }) { hits["minus vocabulary mean", default: 0] += 1 }
                }
            }
            print("\(method.rawValue): \(total) queries; centre point \(String(format: "%.1f%%", 100 * Double(centre) / Double(total)))")
            for (k, v) in hits.sorted(by: { $0.key < $1.key }) { print(String(format: "  %@: %.1f%%", k, 100 * Double(v) / Double(total))) }
        }
    }
}
