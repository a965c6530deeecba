import Foundation
import KestrelDefaultModel
import KestrelEngine
import KestrelImage
import KestrelTestSupport
import KestrelTraining
import XCTest
@testable import KestrelGrounding

/// Dense CLIP grounding with the default model on rendered scenes: heat maps over the whole
/// picture, boxes inside it, the query cache, image queries, bad queries. Nothing here depends on
/// the model's exact weights (its localisation quality is measured by the pointing game, not tested).
final class DenseCLIPGrounderTests: XCTestCase {
    static let embedder: Embedder? = DefaultModel.locate().flatMap { try? Embedder(modelDirectory: $0) }

    func scene(_ index: Int) -> (DecodedImage, ScenesSource.Scene) {
        let s = ScenesSource.generate(index: index, heldOut: true, seed: 7)
        let px = ScenesSource.render(s, seed: 7, index: index)
        return (DecodedImage(width: ScenesSource.size, height: ScenesSource.size, mode: .rgb, pixels: px), s)
    }

    func testHeatMapsAreCosinesOverThePictureAndBoxesLieInside() throws {
        let embedder = try XCTUnwrap(Self.embedder, "default model")
        for method in DenseMethod.allCases {
            let g = try DenseCLIPGrounder(embedder: embedder, method: method)
            let (image, scene) = scene(3)
            let o = scene.objects[0]
            let q = "a \(o.colour.name) \(o.shape.rawValue)"
            let r = try g.ground(image, queries: [.text(q), .text("a picture")],
                                 options: GroundingOptions(threshold: -1, nmsIoU: 0.3, maxPerQuery: 5, heatmaps: true))
            XCTAssertEqual(r.heatmaps.count, 2)
            let grid = embedder.model.config.imageSize / embedder.model.config.patchSize
            for m in r.heatmaps {
                XCTAssertEqual(m.gridWidth, grid); XCTAssertEqual(m.gridHeight, grid)
                XCTAssertEqual(m.region, PixelBox(x0: 0, y0: 0, x1: 224, y1: 224))
                XCTAssertTrue(m.values.allSatisfy { $0.isFinite && $0 >= -1.0001 && $0 <= 1.0001 })
            }
            // Cosines: the map equals the normalised patch features times the normalised query.
            let (features, _, _) = try g.patchFeatures(image)
            let e = try g.queryEmbedding(.text(q))
            let want = DenseCLIPGrounder.heatMaps(features: features, grid: grid, region: r.heatmaps[0].region, queries: [e])[0]
            XCTAssertEqual(want.values, r.heatmaps[0].values)
            XCTAssertFalse(r.detections.isEmpty, "\(method): with threshold -1 every query has a box")
            for d in r.detections {
                XCTAssertTrue(d.box.x0 >= 0 && d.box.y0 >= 0 && d.box.x1 <= 224 && d.box.y1 <= 224 && d.box.area > 0, "\(d.box)")
                // The score is the peak of the map inside the box: never above the map's maximum.
                XCTAssertLessThanOrEqual(d.score, r.heatmaps[d.query].values.max()! + 1e-5)
            }
            XCTAssertEqual(r.detections.map(\.score), r.detections.map(\.score).sorted(by: >))
        }
    }

    func testThresholdQueryCacheAndBadQueries() throws {
        let embedder = try XCTUnwrap(Self.embedder, "default model")
        let g = try DenseCLIPGrounder(embedder: embedder, method: .maskCLIP)
        let (image, _) = scene(5)
        let none = try g.ground(image, queries: [.text("a red circle")], options: GroundingOptions(threshold: 1.01))
        XCTAssertTrue(none.detections.isEmpty)
        XCTAssertTrue(none.heatmaps.isEmpty, "no heat maps unless asked")
        XCTAssertEqual(g.cache.misses, 1)
        _ = try g.ground(image, queries: [.text("a red circle"), .text(" a red circle ")], options: GroundingOptions())
        XCTAssertEqual(g.cache.misses, 1, "the same text again runs no text tower")
        XCTAssertEqual(g.cache.hits, 2)
        XCTAssertThrowsError(try g.ground(image, queries: [.text("   ")], options: GroundingOptions())) { error in
            guard case GroundingError.badQuery = error else { return XCTFail("\(error)") }
        }
        // An image query: the query picture's image embedding, cached by content.
        let (other, _) = scene(6)
        let r = try g.ground(image, queries: [.image(other, name: "query.png")], options: GroundingOptions(threshold: -1, heatmaps: true))
        XCTAssertEqual(r.heatmaps.count, 1)
        XCTAssertEqual(try g.queryEmbedding(.image(other, name: "again")), try g.queryEmbedding(.image(other, name: "query.png")))
    }

    func testLRUCacheDropsTheLeastRecentlyUsed() {
        let c = QueryCache(capacity: 2)
        _ = c.embedding(for: "a") { [1] }
        _ = c.embedding(for: "b") { [2] }
        _ = c.embedding(for: "a") { XCTFail("cached"); return [0] }
        _ = c.embedding(for: "c") { [3] }
        XCTAssertEqual(c.keys, ["a", "c"])
        XCTAssertEqual(c.embedding(for: "b") { [4] }, [4])
    }

    /// A wide picture: resize covers it with the whole grid; pad gives a square region past its bottom.
    func testSquareFitRegions() throws {
        let embedder = try XCTUnwrap(Self.embedder, "default model")
        let (w, h) = (300, 120)
        let picture = DecodedImage(width: w, height: h, mode: .rgb, pixels: [UInt8](repeating: 90, count: w * h * 3))
        let resize = try DenseCLIPGrounder(embedder: embedder, method: .naclip, fit: .resize)
        let pad = try DenseCLIPGrounder(embedder: embedder, method: .naclip, fit: .pad)
        XCTAssertEqual(try resize.patchFeatures(picture).region, PixelBox(x0: 0, y0: 0, x1: 300, y1: 120))
        XCTAssertEqual(try pad.patchFeatures(picture).region, PixelBox(x0: 0, y0: 0, x1: 300, y1: 300))
        let r = try pad.ground(picture, queries: [.text("a square")], options: GroundingOptions(threshold: -1))
        for d in r.detections { XCTAssertLessThanOrEqual(d.box.y1, 120) }
    }

    func testRefinementRescoresWithTheCropEmbedding() throws {
        let embedder = try XCTUnwrap(Self.embedder, "default model")
        let plain = try DenseCLIPGrounder(embedder: embedder, method: .clearCLIP)
        let refined = try DenseCLIPGrounder(embedder: embedder, method: .clearCLIP, refine: true)
        let (image, _) = scene(8)
        let options = GroundingOptions(threshold: -1, nmsIoU: 1, maxPerQuery: 3)
        let a = try plain.ground(image, queries: [.text("a blue circle")], options: options)
        let b = try refined.ground(image, queries: [.text("a blue circle")], options: options)
        XCTAssertEqual(Set(a.detections.map(\.box.array)), Set(b.detections.map(\.box.array)))
        XCTAssertNotEqual(a.detections.map(\.score).sorted(), b.detections.map(\.score).sorted())
        for d in b.detections { XCTAssertTrue((-1.0001...1.0001).contains(d.score)) }
    }
}
