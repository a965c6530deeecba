import Dispatch
import Foundation
import KestrelKernels
import KestrelModels

/// The differentiable CLIP: both towers and the contrastive loss over one `ParameterSet`.
/// Follows transformers' `CLIPModel` (and open_clip's `CLIP`, the same math): patch conv, class
/// token, position add, pre-LayerNorm, pre-norm blocks (LN, fused qkv, attention, out, residual;
/// LN, fc1, activation, fc2, residual), post-LayerNorm on the class token, projection; text:
/// token gather + position, causal blocks, final LayerNorm, pooled at the first end token,
/// projection; both L2-normalised; symmetric InfoNCE with exp(logit_scale).
///
/// Activations are kept in buffers allocated once per batch size and reused across steps
/// (`CLIPGraph+Buffers`). Not thread-safe: one call at a time per graph.
public final class CLIPGraph: @unchecked Sendable {
    public let config: CLIPConfig
    public let parameters: ParameterSet
    let visionActivation: Activation
    let textActivation: Activation
    private var buffers: GraphBuffers?
    private var denseBuffers: DenseBuffers?
    /// Weight of the region-phrase loss (`TrainOps.regionLoss` on the MaskCLIP dense path,
    /// `CLIPGraph+Dense`) added to the contrastive loss for batches with regions; 0: off.
    public var regionLossWeight: Float = 0
    /// The region-phrase loss of the last batch (unweighted): 0 for a batch with no region, nil
    /// when the loss is off.
    public private(set) var lastRegionLoss: Float?
    /// Seconds spent per part ("vision forward", "text forward", "loss", "vision backward",
    /// "text backward"), summed over calls while non-nil (set it to [:] to start measuring).
    public var profile: [String: Double]?

    /// `config` must be valid (as `CLIPConfig.load` or `CLIPConfig(...)` + `validate` leave it) and
    /// `parameters` laid out by `parameterLayout(config)` (any order; names and shapes must match).
    public init(config: CLIPConfig, parameters: ParameterSet) {
        self.config = config
        self.parameters = parameters
        for (name, shape) in Self.parameterLayout(config) {
            precondition(parameters.contains(name) && parameters.view(name).shape == shape,
                         "CLIPGraph: the parameter set has no tensor \(name) of shape \(shape)")
        }
        precondition(config.vision.layers > 0 && config.text.layers > 0, "CLIPGraph: each tower needs a block")
        guard let v = try? Activation(configName: config.vision.activation),
              let t = try? Activation(configName: config.text.activation)
        else { preconditionFailure("CLIPGraph: unknown activation in \(config.vision.activation)/\(config.text.activation)") }
        visionActivation = v
        textActivation = t
    }

    /// Kestrel's tensor names and shapes for `config`, in a fixed order (q, k, v fused as
    /// `qkv.weight` [3W, W] / `qkv.bias` [3W]; projections as Linear weights [embedDim, width];
    /// `logit_scale` [1]).
    public static func parameterLayout(_ config: CLIPConfig) -> [(name: String, shape: [Int])] {
        let c = config, vw = c.vision.width, tw = c.text.width, e = c.embedDim
        func blocks(_ tower: String, _ t: TowerConfig) -> [(name: String, shape: [Int])] {
            let (w, m) = (t.width, t.mlpWidth)
            return (0..<t.layers).flatMap { i -> [(name: String, shape: [Int])] in
                let p = "\(tower).block\(i)."
                return [(p + "norm1.weight", [w]), (p + "norm1.bias", [w]),
                        (p + "qkv.weight", [3 * w, w]), (p + "qkv.bias", [3 * w]),
                        (p + "out.weight", [w, w]), (p + "out.bias", [w]),
                        (p + "norm2.weight", [w]), (p + "norm2.bias", [w]),
                        (p + "fc1.weight", [m, w]), (p + "fc1.bias", [m]),
                        (p + "fc2.weight", [w, m]), (p + "fc2.bias", [w])]
            }
        }
        var layout: [(name: String, shape: [Int])] = [
            ("vision.patch", [vw, 3, c.patchSize, c.patchSize]), ("vision.class", [vw]),
            ("vision.position", [c.visionTokens, vw]), ("vision.pre.weight", [vw]), ("vision.pre.bias", [vw]),
        ]
        layout += blocks("vision", c.vision)
        layout += [("vision.post.weight", [vw]), ("vision.post.bias", [vw]), ("vision.projection", [e, vw]),
                   ("text.token", [c.vocabSize, tw]), ("text.position", [c.contextLength, tw])]
        layout += blocks("text", c.text)
        layout += [("text.final.weight", [tw]), ("text.final.bias", [tw]), ("text.projection", [e, tw]),
                   ("logit_scale", [1])]
        return layout
    }

    /// Why `batch` cannot run on this model (pixel count, token count or ids), nil when it can.
    public func problem(with batch: TrainingBatch) -> String? {
        let b = batch.count, s = config.imageSize
        if b == 0 { return "the batch is empty" }
        if batch.pixels.count != b * 3 * s * s {
            return "\(batch.pixels.count) pixel values for \(b) images of 3×\(s)×\(s)"
        }
        for (i, ids) in batch.tokens.enumerated() {
            if ids.isEmpty || ids.count > config.contextLength {
                return "caption \(i) has \(ids.count) tokens (1...\(config.contextLength) allowed)"
            }
            if let bad = ids.first(where: { $0 < 0 || $0 >= config.vocabSize }) {
                return "caption \(i) holds id \(bad), outside the vocabulary of \(config.vocabSize)"
            }
        }
        if let g = batch.groups, g.count != b { return "\(g.count) group keys for \(b) samples" }
        return nil
    }

    /// Forward and backward for one batch: ACCUMULATES into `parameters.gradients` (frozen
    /// tensors get none) and returns the loss. The caller zeroes gradients once per step.
    /// The batch must pass `problem(with:)` (a programming error otherwise).
    public func lossAndGradients(_ batch: TrainingBatch) -> Float {
        run(batch, backward: true)
    }

    /// Forward only.
    public func loss(_ batch: TrainingBatch) -> Float {
        run(batch, backward: false)
    }

    /// Normalised image embeddings [B, E] of pixels [B, 3, S, S] (forward only).
    public func embedImages(_ pixels: [Float]) -> Tensor {
        let s = config.imageSize, b = pixels.count / (3 * s * s), e = config.embedDim
        precondition(b > 0 && pixels.count == b * 3 * s * s, "CLIPGraph.embedImages: \(pixels.count) values")
        return withPointers { p in
            let bufs = buffers(for: b)
            pixels.withUnsafeBufferPointer { visionForward(p, bufs.vision, pixels: $0.baseAddress!, batch: b) }
            return Tensor(shape: [b, e], data: Array(UnsafeBufferPointer(start: bufs.vision.tower.normalized, count: b * e)))
        }
    }

    /// Normalised text embeddings [B, E] of token sequences (forward only).
    public func embedTexts(_ sequences: [[Int]]) -> Tensor {
        let b = sequences.count, e = config.embedDim
        precondition(b > 0, "CLIPGraph.embedTexts: no sequences")
        return withPointers { p in
            let bufs = buffers(for: b)
            textForward(p, bufs.text, textInput(sequences), batch: b)
            return Tensor(shape: [b, e], data: Array(UnsafeBufferPointer(start: bufs.text.normalized, count: b * e)))
        }
    }

    // MARK: - One step

    private func run(_ batch: TrainingBatch, backward: Bool) -> Float {
        if let problem = problem(with: batch) { preconditionFailure("CLIPGraph: bad batch: \(problem)") }
        let b = batch.count, e = config.embedDim
        let text = textInput(batch.tokens)
        let targets = batch.targets
        let regions: (targets: [RegionLossTarget], phrases: [[Int]]) = regionLossWeight > 0 ? regionTargets(batch) : ([], [])
        lastRegionLoss = regionLossWeight > 0 ? (regions.targets.isEmpty ? 0 : nil) : nil
        let dense = regions.targets.isEmpty ? nil : denseBuffers(for: b)
        let phraseInput = regions.targets.isEmpty ? nil : textInput(regions.phrases)
        return withPointers { p in
            let bufs = buffers(for: b)
            let v = bufs.vision, t = bufs.text
            return batch.pixels.withUnsafeBufferPointer { px in
                let pixels = px.baseAddress!
                timed("vision forward") { visionForward(p, v, pixels: pixels, batch: b) }
                timed("text forward") { textForward(p, t, text, batch: b) }
                let logScale = p.w("logit_scale")[0]
                if backward { zero(v.tower.dNormalized, b * e); zero(t.dNormalized, b * e) }
                var loss = timed("loss") {
                    TrainOps.contrastiveLoss(
                        image: v.tower.normalized, text: t.normalized, logScale: logScale, targets: targets,
                        batch: b, dim: e, dImage: backward ? v.tower.dNormalized : nil,
                        dText: backward ? t.dNormalized : nil, dLogScale: backward ? p.g("logit_scale") : nil)
                }
                if let dense, let phraseInput {
                    let q = regions.phrases.count, ph = dense.phrases, np = config.visionTokens - 1
                    let region = timed("region") { () -> Float in
                        denseForward(p, v, dense, batch: b)
                        textForward(p, ph, phraseInput, batch: q)
                        if backward { zero(dense.dNormalized, b * np * e); zero(ph.dNormalized, q * e) }
                        // The logit scale as the contrastive loss uses it; not trained by this loss.
                        let value = TrainOps.regionLoss(
                            patches: dense.normalized, phrases: ph.normalized, scale: min(exp(logScale), 100), batch: b,
                            patchCount: np, phraseCount: q, dim: e, targets: regions.targets,
                            dPatches: backward ? dense.dNormalized : nil, dPhrases: backward ? ph.dNormalized : nil)
                        if backward {
                            let wgt = regionLossWeight
                            for k in 0..<(b * np * e) { dense.dNormalized[k] *= wgt }
                            for k in 0..<(q * e) { ph.dNormalized[k] *= wgt }
                            denseBackward(p, dense, batch: b)
                        }
                        return value
                    }
                    lastRegionLoss = region
                    loss += regionLossWeight * region
                }
                if backward {
                    timed("vision backward") { visionBackward(p, v, pixels: pixels, batch: b, dense: dense) }
                    timed("text backward") { textBackward(p, t, text, batch: b) }
                    if let dense, let phraseInput {
                        timed("region") { textBackward(p, dense.phrases, phraseInput, batch: regions.phrases.count) }
                    }
                }
                return loss
            }
        }
    }

    /// The dense path's buffers for batch size `b`.
    private func denseBuffers(for b: Int) -> DenseBuffers {
        if let denseBuffers, denseBuffers.batch == b { return denseBuffers }
        let made = DenseBuffers(batch: b, config: config)
        denseBuffers = made
        return made
    }

    private func timed<R>(_ part: String, _ body: () -> R) -> R {
        guard profile != nil else { return body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = body()
        profile![part, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return result
    }

    /// The activation buffers for batch size `b`, made on first use and kept for later steps.
    private func buffers(for b: Int) -> GraphBuffers {
        if let buffers, buffers.batch == b { return buffers }
        let made = GraphBuffers(batch: b, config: config)
        buffers = made
        return made
    }

    func withParameterPointers<R>(_ body: (ParameterPointers) -> R) -> R { withPointers(body) }

    private func withPointers<R>(_ body: (ParameterPointers) -> R) -> R {
        let set = parameters
        return set.values.withUnsafeMutableBufferPointer { values in
            set.gradients.withUnsafeMutableBufferPointer { gradients in
                body(ParameterPointers(set: set, values: values.baseAddress!, gradients: gradients.baseAddress!))
            }
        }
    }
}
