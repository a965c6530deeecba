import Foundation
import KestrelKernels
import KestrelModels
import KestrelTestSupport
import XCTest
@testable import KestrelTraining

/// PyTorch parity of the differentiable CLIP (issue 8, acceptance point 1), against the fixtures
/// of Notebooks/fixtures/training_fixtures.py (transformers' CLIPModel with erf GELU, open_clip's
/// CLIP with QuickGELU; B = 5 captions of 2 to 16 tokens).
///
/// Relative error of a gradient tensor: ||g − g_ref||₂ / ||g_ref||₂ over the whole tensor.
final class TrainingParityTests: XCTestCase {
    struct Reference: Decodable {
        struct Adam: Decodable {
            let lr: Float, beta1: Float, beta2: Float, eps: Float, weight_decay: Float
            let losses: [Float]
        }
        let layout: String
        let tokens: [[Int]]
        let loss: Float
        let token_rows: [Int]
        let adamw: Adam
        let decay: [String]
    }

    struct Fixture {
        let graph: CLIPGraph
        let layout: CheckpointLayout
        let batch: TrainingBatch
        let reference: Reference
        let gradients: SafeTensorsFile
    }

    static func fixture(_ name: String) throws -> Fixture {
        let root = Fixtures.url("training")
        let (config, layout, parameters) = try CheckpointIO.load(root.appendingPathComponent(name))
        let reference = try JSONDecoder().decode(
            Reference.self, from: Data(contentsOf: root.appendingPathComponent("\(name).reference.json")))
        let pixels = try SafeTensorsFile(url: root.appendingPathComponent("batch.safetensors")).floats("pixels")
        let gradients = try SafeTensorsFile(url: root.appendingPathComponent("\(name).gradients.safetensors"))
        return Fixture(graph: CLIPGraph(config: config, parameters: parameters), layout: layout,
                       batch: TrainingBatch(pixels: pixels, tokens: reference.tokens), reference: reference,
                       gradients: gradients)
    }

    /// Kestrel's gradient of checkpoint entry `entry`, in the checkpoint's own shape and order
    /// (q, k, v as row slices of `qkv`; OpenCLIP projections transposed back to [W, E]).
    static func gradient(_ set: ParameterSet, _ entry: CheckpointKey) -> [Float] {
        let parts = entry.name.split(separator: ".").map(String.init)
        if parts.count >= 2, let part = ["q", "k", "v"].firstIndex(of: parts[parts.count - 2]) {
            let fused = set.gradient(parts.dropLast(2).joined(separator: ".") + ".qkv." + parts.last!).data
            let n = fused.count / 3
            return Array(fused[(part * n)..<((part + 1) * n)])
        }
        let g = set.gradient(entry.name)
        guard entry.transform == .transpose else { return g.data }
        let (r, c) = (g.shape[0], g.shape[1])
        var t = [Float](repeating: 0, count: g.count)
        for i in 0..<r { for j in 0..<c { t[j * r + i] = g.data[i * c + j] } }
        return t
    }

    /// The Kestrel tensor holding checkpoint entry `name` (q, k, v live in the fused `qkv`).
    static func kestrelTensor(_ name: String) -> String {
        let parts = name.split(separator: ".").map(String.init)
        guard parts.count >= 2, ["q", "k", "v"].contains(parts[parts.count - 2]) else { return name }
        return parts.dropLast(2).joined(separator: ".") + ".qkv." + parts.last!
    }

    /// ||g − ref|| / ||ref|| (||g − ref|| when ref is zero).
    static func relativeError(_ g: [Float], _ ref: [Float]) -> Double {
        var diff = 0.0, norm = 0.0
        // zip stops at the shorter: a gradient of the wrong length must fail, not compare a prefix.
        guard g.count == ref.count else {
            XCTFail("gradient has \(g.count) values, the reference \(ref.count)")
            return .infinity
        }
        for (a, b) in zip(g, ref) { diff += Double(a - b) * Double(a - b); norm += Double(b) * Double(b) }
        return norm == 0 ? diff.squareRoot() : (diff / norm).squareRoot()
    }

    func checkGradients(_ name: String) throws {
        let f = try Self.fixture(name)
        let graph = f.graph
        graph.parameters.zeroGradients()
        let loss = graph.lossAndGradients(f.batch)
        XCTAssertEqual(loss, f.reference.loss, accuracy: 1e-5 * max(1, abs(f.reference.loss)), name)
        var worst = (error: 0.0, key: "")
        let entries = f.layout.checkpointKeys(graph.config)
        for entry in entries {
            var g = Self.gradient(graph.parameters, entry)
            let ref: [Float]
            if entry.name == "text.token" {
                // Stored only at the rows the batch uses; every other row must be exactly zero.
                ref = try f.gradients.floats(entry.key + ".rows")
                let w = graph.config.text.width
                let used = Set(f.reference.token_rows)
                var rows: [Float] = []
                for row in 0..<graph.config.vocabSize {
                    let slice = g[(row * w)..<((row + 1) * w)]
                    if used.contains(row) { rows += slice } else if slice.contains(where: { $0 != 0 }) {
                        XCTFail("\(name): token row \(row) is not in the batch but has a gradient")
                    }
                }
                g = rows
            } else {
                ref = try f.gradients.floats(entry.key)
            }
            XCTAssertEqual(g.count, ref.count, entry.key)
            if entry.name.hasSuffix(".k.bias") {
                // Softmax is unchanged by adding one constant to every key score: the key bias's
                // gradient is zero in exact arithmetic, and PyTorch's is rounding noise.
                let norms = (g.map { Double($0 * $0) }.reduce(0, +).squareRoot(), ref.map { Double($0 * $0) }.reduce(0, +).squareRoot())
                XCTAssertLessThan(max(norms.0, norms.1), 1e-6, "\(name): \(entry.key) should be ~0: \(norms)")
                continue
            }
            let error = Self.relativeError(g, ref)
            if error > worst.error { worst = (error, entry.key) }
            XCTAssertLessThan(error, 1e-4, "\(name): \(entry.key) relative error \(error)")
        }
        XCTAssertEqual(entries.count, f.gradients.names.count, "every reference gradient compared")
        print("PARITY \(name): loss \(loss) (PyTorch \(f.reference.loss)); worst gradient relative error \(worst.error) at \(worst.key) over \(entries.count) tensors")
    }

    func testGradientsMatchTransformers() throws { try checkGradients("hf") }
    func testGradientsMatchOpenCLIP() throws { try checkGradients("openclip") }

    func checkAdamW(_ name: String) throws {
        let f = try Self.fixture(name)
        let graph = f.graph
        // The weight-decay set PyTorch used is exactly Kestrel's `decays` rule.
        let decayedNames = Set(f.layout.checkpointKeys(graph.config).filter { graph.parameters.view(Self.kestrelTensor($0.name)).decays }.map(\.key))
        XCTAssertEqual(decayedNames, Set(f.reference.decay), "\(name): weight-decay sets")
        let a = f.reference.adamw
        let optimizer = AdamW(parameters: graph.parameters,
                              settings: .init(beta1: a.beta1, beta2: a.beta2, eps: a.eps, weightDecay: a.weight_decay))
        var losses: [Float] = []
        for _ in 0..<10 {
            graph.parameters.zeroGradients()
            losses.append(graph.lossAndGradients(f.batch))
            optimizer.update(learningRate: a.lr)
        }
        losses.append(graph.loss(f.batch))
        var worst: Float = 0
        XCTAssertEqual(losses.count, a.losses.count, "\(name): losses recorded by PyTorch and computed here")
        for (i, (l, r)) in zip(losses, a.losses).enumerated() {
            worst = max(worst, abs(l - r))
            XCTAssertEqual(l, r, accuracy: 1e-4, "\(name): loss \(i)")
        }
        print("PARITY \(name): AdamW losses \(losses.first!) -> \(losses.last!) (PyTorch \(a.losses.last!)); worst |Δloss| \(worst)")
    }

    func testAdamWMatchesTorchTransformers() throws { try checkAdamW("hf") }
    func testAdamWMatchesTorchOpenCLIP() throws { try checkAdamW("openclip") }

    /// The graph's forward equals KestrelModels' inference model on the same folder (1e-5).
    func testEmbeddingsMatchInference() throws {
        for name in ["hf", "openclip"] {
            let f = try Self.fixture(name)
            let model = try CLIPModel(directory: Fixtures.url("training/\(name)"))
            let s = f.graph.config.imageSize
            func normalized(_ t: Tensor) -> [Float] {
                let e = t.shape[1]
                return (0..<t.shape[0]).flatMap { i -> [Float] in
                    let row = Array(t.data[(i * e)..<((i + 1) * e)])
                    let n = row.map { $0 * $0 }.reduce(0, +).squareRoot()
                    return row.map { $0 / n }
                }
            }
            let images = normalized(try model.encodeImages(Tensor(shape: [f.batch.count, 3, s, s], data: f.batch.pixels)))
            let texts = normalized(try model.encodeText(f.batch.tokens))
            let gi = f.graph.embedImages(f.batch.pixels).data, gt = f.graph.embedTexts(f.batch.tokens).data
            XCTAssertEqual(images.count, gi.count)
            XCTAssertEqual(texts.count, gt.count)
            XCTAssertLessThan(zip(images, gi).map { abs($0 - $1) }.max()!, 1e-5, name)
            XCTAssertLessThan(zip(texts, gt).map { abs($0 - $1) }.max()!, 1e-5, name)
        }
    }
}
