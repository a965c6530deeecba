import Foundation
import KestrelImage
import KestrelKernels
import KestrelTestSupport
import KestrelTokenizer
@testable import KestrelTraining

/// A tiny contrastive model for testing the loop without CLIPGraph: image embedding = W · pixels,
/// text embedding = the sum of the tokens' rows of a table, both L2-normalised, CLIP's loss with a
/// learnable logit scale. Every op is a TrainOps kernel.
final class TinyContrastiveModel: TrainableModel {
    let parameters: ParameterSet
    let inputs: Int, dim: Int, vocab: Int

    init(imageSize: Int, dim: Int = 8, vocab: Int = 49408, seed: UInt64 = 7) {
        inputs = 3 * imageSize * imageSize
        self.dim = dim
        self.vocab = vocab
        parameters = ParameterSet([("image.weight", [dim, inputs]), ("text.token", [vocab, dim]), ("logit_scale", [1])])
        var rng = TrainingRNG(seed: seed)
        for i in 0..<parameters.count { parameters.values[i] = 0.02 * rng.nextGaussian() }
        parameters.set("logit_scale", [log(1 / 0.07)])
    }

    func lossAndGradients(_ batch: TrainingBatch) -> Float {
        let b = batch.count, d = dim
        let p = parameters
        let wv = p.view("image.weight"), tv = p.view("text.token"), sv = p.view("logit_scale")
        var img = [Float](repeating: 0, count: b * d), txt = [Float](repeating: 0, count: b * d)
        var imgN = img, txtN = txt, nI = [Float](repeating: 0, count: b), nT = nI
        var dImgN = img, dTxtN = txt, dImg = img, dTxt = txt
        var dScale: Float = 0
        let loss: Float = p.values.withUnsafeBufferPointer { v in
            batch.pixels.withUnsafeBufferPointer { x in
                TrainOps.linearForward(y: &img, x: x.baseAddress!, weight: v.baseAddress! + wv.offset, bias: nil,
                                       rows: b, inDim: inputs, outDim: d)
            }
            for i in 0..<b {
                for id in batch.tokens[i] { for k in 0..<d { txt[i * d + k] += v[tv.offset + id * d + k] } }
            }
            TrainOps.l2NormalizeForward(y: &imgN, norm: &nI, x: img, rows: b, dim: d)
            TrainOps.l2NormalizeForward(y: &txtN, norm: &nT, x: txt, rows: b, dim: d)
            return TrainOps.contrastiveLoss(image: imgN, text: txtN, logScale: v[sv.offset], targets: batch.targets,
                                            batch: b, dim: d, dImage: &dImgN, dText: &dTxtN, dLogScale: &dScale)
        }
        TrainOps.l2NormalizeBackward(dx: &dImg, dy: dImgN, y: imgN, norm: nI, rows: b, dim: d)
        TrainOps.l2NormalizeBackward(dx: &dTxt, dy: dTxtN, y: txtN, norm: nT, rows: b, dim: d)
        p.values.withUnsafeBufferPointer { v in
            p.gradients.withUnsafeMutableBufferPointer { g in
                batch.pixels.withUnsafeBufferPointer { x in
                    if wv.trainable {
                        TrainOps.linearBackward(dx: nil, dWeight: g.baseAddress! + wv.offset, dBias: nil, dy: dImg,
                                                x: x.baseAddress!, weight: v.baseAddress! + wv.offset, rows: b, inDim: inputs, outDim: d)
                    }
                }
                if tv.trainable {
                    for i in 0..<b { for id in batch.tokens[i] { for k in 0..<d { g[tv.offset + id * d + k] += dTxt[i * d + k] } } }
                }
                if sv.trainable { g[sv.offset] += dScale }
            }
        }
        return loss
    }
}

enum TrainerFixtures {
    static let colours: [(String, [UInt8])] = [("red", [220, 30, 30]), ("green", [30, 200, 40]), ("blue", [30, 60, 220])]
    static let shapes = ["square", "circle"]

    /// A data folder of `count` small PNGs (coloured shapes on white, some with alpha, some gray)
    /// and its manifest.jsonl: `scenes` entries (train) plus two held-out ones.
    static func makeDataFolder(count: Int = 12, size: Int = 20) throws -> URL {
        let dir = Fixtures.temporaryDirectory("kestrel-train-data")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("images"), withIntermediateDirectories: true)
        var lines = [String]()
        for i in 0..<(count + 2) {
            let (colour, rgb) = colours[i % colours.count]
            let shape = shapes[(i / colours.count) % shapes.count]
            let w = size + (i % 3) * 4, h = size + (i % 2) * 6
            let channels = i % 4 == 3 ? 4 : 3
            var px = [UInt8](repeating: 255, count: w * h * channels)
            for y in 0..<h {
                for x in 0..<w {
                    let dx = Double(x) - Double(w) / 2, dy = Double(y) - Double(h) / 2
                    let inside = shape == "square" ? (abs(dx) < Double(w) / 3 && abs(dy) < Double(h) / 3)
                        : (dx * dx + dy * dy < Double(min(w, h) * min(w, h)) / 9)
                    let o = (y * w + x) * channels
                    if inside { for c in 0..<3 { px[o + c] = rgb[c] } }
                    if channels == 4 { px[o + 3] = inside ? 255 : UInt8((x * 7 + y * 3) % 256) }
                }
            }
            let png = try PNGEncoder.encode(pixels: px, width: w, height: h, channels: channels)
            let name = "images/\(i)-\(colour)-\(shape).png"
            try Data(png).write(to: dir.appendingPathComponent(name))
            let side = i % 5 == 0 ? " on the left" : ""
            let entry = ManifestEntry(path: name, captions: ["a \(colour) \(shape)\(side)", "\(colour) \(shape)"],
                                      split: i < count ? "train" : "heldout", source: "scenes", licence: "CC0-1.0",
                                      label: "\(colour) \(shape)", group: "\(colour) \(shape)")
            lines.append(String(decoding: try JSONEncoder().encode(entry), as: UTF8.self))
        }
        try (lines.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("manifest.jsonl"), atomically: true, encoding: .utf8)
        return dir
    }

    /// A recipe for the tiny model over `folder`.
    static func recipe(folder: URL, steps: Int = 6, batch: Int = 8, micro: Int = 4, checkpointEvery: Int = 2) throws -> Recipe {
        let json = """
        {"format": "kestrel-recipe", "version": 1,
         "model": {"init": {"image_size": 16, "patch_size": 8, "width": 16, "layers": 1, "heads": 2, "mlp_width": 32,
                            "activation": "quick_gelu", "text_width": 16, "text_layers": 1, "text_heads": 2,
                            "text_mlp_width": 32, "context_length": 8, "embed_dim": 8, "vocab_merges": 100}},
         "data": {"folder": "\(folder.path)", "sources": {"scenes": 1}},
         "batch_size": \(batch), "micro_batch_size": \(micro), "steps": \(steps),
         "learning_rate": 0.01, "warmup_steps": 2, "min_learning_rate": 0.001,
         "weight_decay": 0.1, "beta1": 0.9, "beta2": 0.98, "eps": 1e-6, "grad_clip_norm": 1.0,
         "seed": 42, "threads": 2, "targets": "soft-label",
         "augmentation": {"crop_scale": [0.5, 1.0], "crop_ratio": [0.75, 1.3333333], "flip": true},
         "checkpoint_every": \(checkpointEvery), "log_every": 1, "freeze": [], "export_dtype": "f32"}
        """
        return try Recipe.decode(Data(json.utf8), file: "tiny-test.json")
    }

    static let tokenizer: CLIPTokenizer = try! CLIPTokenizer.bundled(repoRoot: Fixtures.repoRoot)

    static func loader(_ recipe: Recipe, folder: URL, workers: Int = 1) throws -> DataLoader {
        var o = DataLoader.Options(imageSize: 16, contextLength: 8)
        o.cropScale = (recipe.augmentation.cropScale[0], recipe.augmentation.cropScale[1])
        o.cropRatio = (recipe.augmentation.cropRatio[0], recipe.augmentation.cropRatio[1])
        o.softLabels = recipe.targets == "soft-label"
        o.workers = workers
        return try DataLoader(folder: folder, weights: recipe.data.sources, seed: recipe.seed, tokenizer: tokenizer, options: o)
    }

    /// A trainer of a fresh tiny model writing to `out`.
    static func trainer(_ recipe: Recipe, folder: URL, out: URL, resume: Bool = false) throws -> Trainer {
        let setup = TrainingSetup(model: TinyContrastiveModel(imageSize: 16), imageSize: 16, contextLength: 8,
                                  tokenizer: tokenizer, mean: PreprocessConfig.openAIMean, std: PreprocessConfig.openAIStd)
        var options = Trainer.Options(out: out)
        options.resume = resume
        options.progress = false
        return try Trainer(recipe: recipe, setup: setup, loader: try loader(recipe, folder: folder), options: options)
    }
}
