import Foundation
import KestrelKernels
import KestrelModels
import XCTest
@testable import KestrelTraining

/// Samples per second of `lossAndGradients` at the default training shape (ViT patch 32 at 224,
/// width 256, 6 layers per tower, 4 heads, MLP 1024, context 16, embed 256, batch 64), with a
/// per-part breakdown. Runs only when KESTREL_GRAPH_BENCH is set (build in release:
/// `swift build -c release --build-tests -Xswiftc -enable-testing`); KESTREL_GRAPH_THREADS
/// (default 2) sets the threads.
final class GraphSpeedTests: XCTestCase {
    func testDefaultShapeSpeed() throws {
        guard ProcessInfo.processInfo.environment["KESTREL_GRAPH_BENCH"] != nil else { throw XCTSkip("KESTREL_GRAPH_BENCH not set") }
        Kernels.threads = Int(ProcessInfo.processInfo.environment["KESTREL_GRAPH_THREADS"] ?? "2") ?? 2
        let tower = TowerConfig(width: 256, layers: 6, heads: 4, mlpWidth: 1024, activation: "quick_gelu")
        let config = CLIPConfig(imageSize: 224, patchSize: 32, vision: tower, vocabSize: 49408, contextLength: 16,
                                text: tower, endTokenID: 49407, embedDim: 256)
        let graph = CLIPGraph(config: config, parameters: CLIPInitializer.random(config: config, seed: 1))
        var rng = TrainingRNG(seed: 2)
        let b = 64
        let pixels = (0..<(b * 3 * 224 * 224)).map { _ in rng.nextGaussian() }
        let tokens = (0..<b).map { i in [49406] + (0..<(4 + i % 11)).map { _ in Int(rng.next() % 49000) } + [49407] }
        let batch = TrainingBatch(pixels: pixels, tokens: tokens)
        _ = graph.lossAndGradients(batch)   // warm-up (buffers, BLAS)
        graph.profile = [:]
        let steps = 5
        let start = Date()
        for _ in 0..<steps {
            graph.parameters.zeroGradients()
            _ = graph.lossAndGradients(batch)
        }
        let seconds = Date().timeIntervalSince(start)
        let parts = (graph.profile ?? [:]).sorted { $0.key < $1.key }
            .map { "\($0.key) \(String(format: "%.1f", $0.value / Double(steps) * 1000)) ms" }.joined(separator: ", ")
        print("GRAPH SPEED: \(String(format: "%.1f", Double(b * steps) / seconds)) samples/s at batch \(b), \(Kernels.threads) threads; per step: \(String(format: "%.1f", seconds / Double(steps) * 1000)) ms = \(parts)")
    }
}
