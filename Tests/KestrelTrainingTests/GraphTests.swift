import Foundation
import KestrelKernels
import KestrelModels
import KestrelTestSupport
import XCTest
@testable import KestrelTraining

/// CLIPGraph beyond PyTorch parity: frozen tensors, accumulation, soft targets, buffer reuse.
final class GraphTests: XCTestCase {
    static let config = CLIPConfig(
        imageSize: 12, patchSize: 4,
        vision: TowerConfig(width: 16, layers: 2, heads: 2, mlpWidth: 24, activation: "quick_gelu"),
        vocabSize: 40, contextLength: 8,
        text: TowerConfig(width: 12, layers: 2, heads: 3, mlpWidth: 20, activation: "gelu"),
        endTokenID: 39, embedDim: 8)

    static func batch(_ b: Int, seed: UInt64, groups: [Int]? = nil) -> TrainingBatch {
        var rng = TrainingRNG(seed: seed)
        let pixels = (0..<(b * 3 * 12 * 12)).map { _ in rng.nextGaussian() }
        let tokens = (0..<b).map { i -> [Int] in
            let n = 1 + (i * 3 + Int(seed)) % 6
            return [38] + (0..<n).map { _ in Int(rng.next() % 38) } + [39]
        }
        return TrainingBatch(pixels: pixels, tokens: tokens, groups: groups)
    }

    static func graph(seed: UInt64 = 3) -> CLIPGraph {
        let set = CLIPInitializer.random(config: config, seed: seed)
        // Wider weights than the init, so every path carries a gradient well above rounding.
        for i in set.values.indices { set.values[i] *= 1.5 }
        set.set("logit_scale", [2])
        return CLIPGraph(config: config, parameters: set)
    }

    func testFrozenTensorsGetNoGradientAndTheRestIsUnchanged() {
        let full = Self.graph(), frozen = Self.graph()
        let batch = Self.batch(4, seed: 1)
        _ = full.lossAndGradients(batch)
        frozen.parameters.setTrainable(false, prefix: "vision.")
        frozen.parameters.setTrainable(false, prefix: "text.block0.")
        frozen.parameters.setTrainable(false, prefix: "logit_scale")
        XCTAssertEqual(frozen.lossAndGradients(batch), full.loss(batch))
        for view in frozen.parameters.views {
            let g = frozen.parameters.gradient(view.name).data
            if view.trainable {
                XCTAssertEqual(g, full.parameters.gradient(view.name).data, view.name)
                XCTAssertTrue(g.contains { $0 != 0 }, "\(view.name) has a gradient")
            } else {
                XCTAssertTrue(g.allSatisfy { $0 == 0 }, "\(view.name) is frozen")
            }
        }
    }

    func testGradientsAccumulateAcrossCalls() {
        let g = Self.graph()
        let batch = Self.batch(3, seed: 2)
        _ = g.lossAndGradients(batch)
        let once = g.parameters.gradients
        _ = g.lossAndGradients(batch)
        for (a, b) in zip(once, g.parameters.gradients) { XCTAssertEqual(b, 2 * a, accuracy: 1e-6 * max(1, abs(a))) }
    }

    func testBuffersReusedAcrossBatchSizesGiveTheSameAnswers() {
        let g = Self.graph(), fresh = Self.graph()
        let small = Self.batch(2, seed: 5), large = Self.batch(6, seed: 6)
        _ = g.loss(large)
        _ = g.loss(small)
        XCTAssertEqual(g.loss(large), fresh.loss(large))
        XCTAssertEqual(g.embedTexts(small.tokens), fresh.embedTexts(small.tokens))
    }

    /// Central differences of the loss (soft targets: samples 0 and 2 are positives of each
    /// other) against the graph's gradient, for a few entries of every kind of tensor.
    func testGradientsMatchFiniteDifferencesWithSoftTargets() {
        let g = Self.graph()
        let batch = Self.batch(4, seed: 9, groups: [0, 1, 0, 2])
        g.parameters.zeroGradients()
        _ = g.lossAndGradients(batch)
        let analytic = g.parameters.gradients
        let names = ["vision.patch", "vision.class", "vision.position", "vision.pre.weight", "vision.block0.qkv.weight",
                     "vision.block1.fc1.bias", "vision.post.bias", "vision.projection", "text.token", "text.position",
                     "text.block0.out.weight", "text.block1.norm2.weight", "text.final.weight", "text.projection", "logit_scale"]
        Self.checkFiniteDifferences(g, batch, analytic: analytic, names: names, seed: 11)
    }

    /// Central differences of `g.loss(batch)` (h = 3e-3) against `analytic` for two entries of each
    /// named tensor: the largest-gradient entry and one at random (the token rows used are sparse).
    static func checkFiniteDifferences(_ g: CLIPGraph, _ batch: TrainingBatch, analytic: [Float], names: [String], seed: UInt64,
                                       file: StaticString = #filePath, line: UInt = #line) {
        var rng = TrainingRNG(seed: seed)
        for name in names {
            let view = g.parameters.view(name)
            let slice = analytic[view.offset..<(view.offset + view.count)]
            let largest = slice.indices.max { abs(slice[$0]) < abs(slice[$1]) }!
            for index in [largest, view.offset + Int(rng.next() % UInt64(view.count))] {
                let saved = g.parameters.values[index], h: Float = 3e-3
                g.parameters.values[index] = saved + h
                let plus = Double(g.loss(batch))
                g.parameters.values[index] = saved - h
                let minus = Double(g.loss(batch))
                g.parameters.values[index] = saved
                let numeric = (plus - minus) / Double(2 * h)
                XCTAssertEqual(Double(analytic[index]), numeric, accuracy: 2e-3 + 2e-2 * abs(numeric),
                               "\(name)[\(index - view.offset)]", file: file, line: line)
            }
        }
    }

    func testTextWithoutEndTokenPoolsAtItsLastToken() {
        let g = Self.graph()
        let a = g.embedTexts([[38, 5, 6]]).data
        let b = g.embedTexts([[38, 5, 6, 39, 7], [38, 5, 6]]).data
        XCTAssertEqual(Array(b[8..<16]), a)
        XCTAssertNotNil(g.problem(with: TrainingBatch(pixels: [], tokens: [[1]])))
        XCTAssertNotNil(g.problem(with: TrainingBatch(pixels: [Float](repeating: 0, count: 432), tokens: [[40]])))
        XCTAssertNil(g.problem(with: TrainingBatch(pixels: [Float](repeating: 0, count: 432), tokens: [[38, 39]])))
    }
}
