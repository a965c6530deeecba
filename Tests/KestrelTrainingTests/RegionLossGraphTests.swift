import Foundation
import KestrelKernels
import KestrelModels
import KestrelTestSupport
import XCTest
@testable import KestrelTraining

/// The region-phrase loss inside `CLIPGraph`: the MaskCLIP dense path and the phrases' text tower
/// carry its gradient (central differences), it is off at weight 0, and box-to-patch mapping.
final class RegionLossGraphTests: XCTestCase {
    static func batch() -> TrainingBatch {
        var b = GraphTests.batch(3, seed: 21)
        b.regionPhrases = [[38, 4, 9, 39], [38, 7, 39], [38, 12, 5, 20, 39]]
        // 12-pixel inputs, 4-pixel patches: a 3x3 grid.
        b.regions = [RegionBox(image: 0, phrase: 0, box: [0, 0, 6, 6]), RegionBox(image: 0, phrase: 1, box: [7, 7, 12, 12]),
                     RegionBox(image: 2, phrase: 2, box: [3, 0, 9, 5]), RegionBox(image: 2, phrase: 0, box: [0, 8, 5, 12])]
        return b
    }

    func testWeightZeroIsTheContrastiveLossAlone() {
        let g = GraphTests.graph(), plain = GraphTests.graph()
        let batch = Self.batch()
        XCTAssertEqual(g.loss(batch), plain.loss(TrainingBatch(pixels: batch.pixels, tokens: batch.tokens)))
        g.regionLossWeight = 0.7
        XCTAssertGreaterThan(g.loss(batch), plain.loss(batch))
        XCTAssertNotNil(g.lastRegionLoss)
    }

    func testGradientsMatchFiniteDifferences() {
        let g = GraphTests.graph()
        g.regionLossWeight = 0.7
        let batch = Self.batch()
        g.parameters.zeroGradients()
        _ = g.lossAndGradients(batch)
        let analytic = g.parameters.gradients
        // The dense path's own tensors, what lies under it, and the phrases' text tower.
        let names = ["vision.block1.qkv.weight", "vision.block1.qkv.bias", "vision.block1.out.weight", "vision.block1.out.bias",
                     "vision.post.weight", "vision.post.bias", "vision.projection", "vision.block0.fc1.weight", "vision.patch",
                     "text.token", "text.block1.qkv.weight", "text.projection"]
        GraphTests.checkFiniteDifferences(g, batch, analytic: analytic, names: names, seed: 12)
    }

    func testBoxesMapToThePatchesWhoseCentreTheyCover() {
        XCTAssertEqual(RegionBox(image: 0, phrase: 0, box: [0, 0, 5, 5]).patches(grid: 3, patchSize: 4), [0])
        XCTAssertEqual(RegionBox(image: 0, phrase: 0, box: [0, 0, 6, 6]).patches(grid: 3, patchSize: 4), [0, 1, 3, 4])  // centres on the edge count
        XCTAssertEqual(RegionBox(image: 0, phrase: 0, box: [1, 1, 11, 7]).patches(grid: 3, patchSize: 4), [0, 1, 2, 3, 4, 5])
        // Smaller than a patch and covering no centre: the patch under its centre.
        XCTAssertEqual(RegionBox(image: 0, phrase: 0, box: [8.5, 4.5, 9.5, 5.5]).patches(grid: 3, patchSize: 4), [5])
        XCTAssertEqual(RegionBox(image: 0, phrase: 0, box: [13, 0, 20, 4]).patches(grid: 3, patchSize: 4), [])
    }

    func testLoaderMapsBoxesThroughCropResizeAndFlip() {
        let e = ManifestEntry(path: "x.png", captions: ["a red circle"], split: "train", source: "scenes", licence: "CC0-1.0",
                              boxes: [ManifestBox(shape: "circle", colour: "red", box: [10, 20, 30, 40]),
                                      ManifestBox(shape: "square", colour: "blue", box: [90, 90, 100, 100])])
        let image = CachedImage(pixels: [], width: 100, height: 100, scale: 1)
        let crop = Augment.Box(i: 10, j: 0, h: 50, w: 50)
        let plain = DataLoader.regions(of: e, image: image, crop: crop, size: 100, flip: false)
        XCTAssertEqual(plain.map(\.phrase), ["a red circle"])   // the blue square lies outside the crop
        XCTAssertEqual(plain[0].box, [20, 20, 60, 60])
        let flipped = DataLoader.regions(of: e, image: image, crop: crop, size: 100, flip: true)
        XCTAssertEqual(flipped[0].box, [40, 20, 80, 60])
        // A picture shrunk to half: the manifest's stored-pixel boxes shrink with it.
        let half = DataLoader.regions(of: e, image: CachedImage(pixels: [], width: 50, height: 50, scale: 0.5),
                                      crop: Augment.Box(i: 0, j: 0, h: 50, w: 50), size: 50, flip: false)
        XCTAssertEqual(half[0].box, [5, 10, 15, 20])
        // Phrases as captions and queries write them ("an orange ...").
        let orange = ManifestEntry(path: "y.png", captions: [], split: "train", source: "grounding", licence: "CC0-1.0",
                                   boxes: [ManifestBox(shape: "star", colour: "orange", box: [10, 10, 20, 20])])
        XCTAssertEqual(DataLoader.regions(of: orange, image: image, crop: Augment.Box(i: 0, j: 0, h: 100, w: 100), size: 100,
                                          flip: false).map(\.phrase), ["an orange star"])
    }

    /// The dense path the region loss trains is the one `kestrel ground` serves:
    /// `VisionTransformer.denseFeatures(method: .maskCLIP)` on the exported model.
    func testTrainedDensePathIsTheServedMaskCLIP() throws {
        let (config, _, parameters) = try CheckpointIO.load(Fixtures.url("training/hf"))
        let g = CLIPGraph(config: config, parameters: parameters)
        let s = config.imageSize, np = config.visionTokens - 1, e = config.embedDim
        var rng = TrainingRNG(seed: 41)
        let pixels = (0..<(2 * 3 * s * s)).map { _ in rng.nextGaussian() }
        let trained = g.denseFeaturesForTesting(pixels)
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("model")
        let bpe = Fixtures.repoRoot.appendingPathComponent("Vocab/bpe_simple_vocab_16e6.txt.gz")
        try ModelExport.saveHuggingFace(parameters: parameters, config: config, to: out, dtype: .f32,
                                        vocabulary: try Vocabulary.clip(merges: config.vocabSize - 514, bpeGzip: bpe))
        let model = try CLIPModel(directory: out)
        var served = model.vision.denseFeatures(Tensor(shape: [2, 3, s, s], data: pixels), method: .maskCLIP, threads: 1).data
        for row in 0..<(2 * np) {
            let norm = (0..<e).reduce(Float(0)) { $0 + served[row * e + $1] * served[row * e + $1] }.squareRoot()
            for c in 0..<e { served[row * e + c] /= norm }
        }
        XCTAssertEqual(trained.count, served.count)
        for (a, b) in zip(trained, served) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    }
}
