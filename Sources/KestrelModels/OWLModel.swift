import Foundation
import KestrelKernels

/// What the image side of an OWL detector computes for a batch of B pictures, N = g^2 patches each.
public struct OWLImageFeatures: Sendable {
    public let batch: Int
    public let patches: Int
    /// Class embeddings, the class head's dense(f): [B, N, D] (D the text width), not normalised.
    public var classEmbeddings: Tensor
    /// Per-patch logit shift [B * N] and scale (elu + 1) [B * N].
    public var logitShift: [Float]
    public var logitScale: [Float]
    /// Boxes [B, N, 4]: normalised (cx, cy, w, h) in the model's square input, 0...1.
    public var boxes: Tensor
    /// OWLv2's objectness logits [B * N]; nil for OWL-ViT.
    public var objectness: [Float]?

    /// Rows of picture `b`: class embeddings [N * D] and boxes [N * 4].
    public func classEmbeddings(of b: Int) -> [Float] {
        let d = classEmbeddings.lastDim
        return Array(classEmbeddings.data[(b * patches * d)..<((b + 1) * patches * d)])
    }
    public func boxes(of b: Int) -> [Float] { Array(boxes.data[(b * patches * 4)..<((b + 1) * patches * 4)]) }
}

/// An OWL-ViT / OWLv2 checkpoint (transformers' `OwlViTForObjectDetection` / `Owlv2ForObjectDetection`,
/// Hugging Face folder: config.json with model_type owlvit/owlv2, model.safetensors):
///   x = vision tower on all tokens, post_layernorm on every token      [B, N+1, W]
///   f = layer_norm(x[:, 1:] * x[:, :1])                                [B, N, W]
///   boxes = sigmoid(box_head(f) + box_bias)                            [B, N, 4]  (cx, cy, w, h)
///   e = class_head.dense(f); shift, scale = shift(f), elu(scale(f)) + 1
///   logits[n, q] = (e_n / (|e_n| + 1e-6) . t_q / (|t_q| + 1e-6) + shift_n) * scale_n   (masked queries: -FLT_MAX)
///   objectness = objectness_head(f)                                    [B, N]     (OWLv2)
/// with t_q the L2-normalised projected text embedding (pooled at the end token, context 16) or an
/// image query's class embedding. Products run on the GEMM seam; twin: transformers (parity tests).
public final class OWLModel: Sendable {
    public let directory: URL
    public let config: OWLConfig
    public let vision: VisionTransformer
    public let text: TextTransformer
    let normWeight, normBias: [Float]   // [W]
    let classHead: OWLClassHead
    let boxHead: OWLMLPHead
    let objectnessHead: OWLMLPHead?
    /// [N, 4], see `owlBoxBias`.
    public let boxBias: [Float]
    /// Checkpoint tensors the architecture did not use.
    public let unusedTensors: [String]
    public let parameterCount: Int

    public var kind: OWLKind { config.kind }

    /// Loads an OWL folder. Throws `ModelError` naming the file, field or tensor at fault (a head
    /// tensor missing or misshapen, a config that does not fit the checkpoint).
    public init(directory: URL, precision: Precision = .fp32) throws {
        let gemm = GEMMBackends.choose(for: precision)
        let fm = FileManager.default
        let configURL = directory.appendingPathComponent("config.json")
        let weightsURL = directory.appendingPathComponent("model.safetensors")
        guard fm.fileExists(atPath: configURL.path) else { throw ModelError.notAModelFolder(directory) }
        guard fm.fileExists(atPath: weightsURL.path) else { throw ModelError.missingFile(weightsURL) }
        try ModelFiles.checkFolder(directory)
        self.directory = directory
        config = try OWLConfig.load(configURL)
        let c = config.clip
        let file = try SafeTensorsFile(url: weightsURL)
        let reader = WeightReader(file: file, layout: .huggingFace, rules: owlWeightRules(config.kind))
        try ConfigCheck(config: c, reader: reader, configURL: configURL).run()
        vision = try VisionTransformer(reading: reader, config: c, gemm: gemm)
        text = try TextTransformer(reading: reader, config: c, gemm: gemm)
        _ = try reader.tensor("logit_scale", shape: [1])   // CLIP's temperature: unused by detection
        let w = c.vision.width
        normWeight = try reader.tensor("owl.norm.weight", shape: [w]).data
        normBias = try reader.tensor("owl.norm.bias", shape: [w]).data
        classHead = try OWLClassHead(reading: reader, width: w, queryWidth: c.text.width, gemm: gemm)
        boxHead = try OWLMLPHead(reading: reader, head: "box", width: w, out: 4, gemm: gemm)
        objectnessHead = config.kind == .owlv2 ? try OWLMLPHead(reading: reader, head: "objectness", width: w, out: 1, gemm: gemm) : nil
        boxBias = owlBoxBias(grid: config.gridSize)
        unusedTensors = reader.unusedKeys
        parameterCount = reader.parameterCount
    }

    /// The image side: pixels [B, 3, S, S] (preprocessed) -> features, boxes, class embeddings.
    /// Throws `ModelError.badPixels` for another shape, `.nonFiniteOutput` for NaN/infinite results.
    public func imageFeatures(_ pixels: Tensor, threads: Int = Kernels.threads) throws -> OWLImageFeatures {
        let s = config.clip.imageSize
        guard pixels.rank == 4, pixels.shape[1] == 3, pixels.shape[2] == s, pixels.shape[3] == s else {
            throw ModelError.badPixels(expected: 3 * s * s, found: pixels.rank == 4 ? pixels.count / max(pixels.shape[0], 1) : pixels.count)
        }
        let b = pixels.shape[0], n = config.patches, t = n + 1, w = vision.width
        var x = vision.hiddenStates(pixels, threads: threads)                                     // [B, T, W]
        x.data.withUnsafeMutableBufferPointer { p in
            vision.postWeight.withUnsafeBufferPointer { g in vision.postBias.withUnsafeBufferPointer { be in
                layerNormRows(p.baseAddress!, rows: b * t, columns: w, weight: g.baseAddress!, bias: be.baseAddress!,
                              eps: vision.eps, into: p.baseAddress!, threads: threads)            // post_layernorm, all tokens
            } }
        }
        var f = [Float](repeating: 0, count: b * n * w)                                         // f = x[:, 1:] * x[:, :1]
        for i in 0..<b {
            let cls = i * t * w
            for j in 0..<n {
                let src = (i * t + j + 1) * w, dst = (i * n + j) * w
                for c in 0..<w { f[dst + c] = x.data[src + c] * x.data[cls + c] }
            }
        }
        f.withUnsafeMutableBufferPointer { p in
            normWeight.withUnsafeBufferPointer { g in normBias.withUnsafeBufferPointer { be in
                layerNormRows(p.baseAddress!, rows: b * n, columns: w, weight: g.baseAddress!, bias: be.baseAddress!,
                              eps: config.clip.vision.layerNormEps, into: p.baseAddress!, threads: threads)   // layer_norm
            } }
        }
        let rows = b * n, d = classHead.dense.outFeatures
        var classEmbeddings = Tensor(shape: [b, n, d])
        var shift = [Float](repeating: 0, count: rows), scale = shift
        var boxes = [Float]()
        var objectness: [Float]?
        f.withUnsafeBufferPointer { fp in
            let fx = fp.baseAddress!
            classEmbeddings.data.withUnsafeMutableBufferPointer { classHead.dense.apply(fx, rows: rows, into: $0.baseAddress!, threads: threads) }
            shift.withUnsafeMutableBufferPointer { classHead.shift.apply(fx, rows: rows, into: $0.baseAddress!, threads: threads) }
            scale.withUnsafeMutableBufferPointer { classHead.scale.apply(fx, rows: rows, into: $0.baseAddress!, threads: threads) }
            boxes = boxHead.forward(fx, rows: rows, threads: threads)
            objectness = objectnessHead?.forward(fx, rows: rows, threads: threads)
        }
        for i in 0..<rows { scale[i] = owlScale(scale[i]) }
        for i in 0..<b {
            for j in 0..<n {
                for k in 0..<4 {
                    let at = (i * n + j) * 4 + k
                    boxes[at] = owlSigmoid(boxes[at] + boxBias[j * 4 + k])
                }
            }
        }
        let features = OWLImageFeatures(batch: b, patches: n, classEmbeddings: classEmbeddings, logitShift: shift, logitScale: scale,
                                        boxes: Tensor(shape: [b, n, 4], data: boxes), objectness: objectness)
        for (name, values) in [("box", boxes), ("class embedding", classEmbeddings.data), ("logit shift", shift),
                               ("logit scale", scale), ("objectness", objectness ?? [])] {
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw ModelError.nonFiniteOutput(what: "OWL \(name)", row: bad / max(values.count / max(b, 1), 1))
            }
        }
        return features
    }

    /// Token ids (each 1...16 ids ending with the end token; padding after it is ignored) ->
    /// text query embeddings [Q, D], L2-normalised (transformers' `text_embeds`).
    public func textEmbeddings(_ ids: [[Int]], threads: Int = Kernels.threads) throws -> Tensor {
        var e = try text.forward(ids, threads: threads)
        if let bad = e.data.firstIndex(where: { !$0.isFinite }) { throw ModelError.nonFiniteOutput(what: "OWL text embedding", row: bad / e.lastDim) }
        l2Normalize(&e)
        return e
    }

    /// Class logits of picture `b` against queries [Q, D]: [N, Q] (formula in the type's comment).
    /// `mask[q] == false` gives query q the logit -Float.greatestFiniteMagnitude (transformers'
    /// padded query slots). Throws `ModelError.badTokenIDs` when the query width is not D.
    public func logits(_ f: OWLImageFeatures, image b: Int, queries: Tensor, mask: [Bool]? = nil) throws -> Tensor {
        let n = f.patches, d = f.classEmbeddings.lastDim, q = queries.rows
        guard queries.lastDim == d || q == 0 else {
            throw ModelError.badTokenIDs(reason: "query embeddings have width \(queries.lastDim), the class head needs \(d)")
        }
        var qn = queries.data
        for r in 0..<q {
            var s: Float = 0
            for c in 0..<d { s += qn[r * d + c] * qn[r * d + c] }
            let inv = 1 / (s.squareRoot() + 1e-6)
            for c in 0..<d { qn[r * d + c] *= inv }
        }
        var out = Tensor(shape: [n, q])
        let e = f.classEmbeddings.data
        for p in 0..<n {
            let base = (b * n + p) * d
            var s: Float = 0
            for c in 0..<d { s += e[base + c] * e[base + c] }
            let inv = 1 / (s.squareRoot() + 1e-6)
            let shift = f.logitShift[b * n + p], scale = f.logitScale[b * n + p]
            for r in 0..<q {
                if let mask, r < mask.count, !mask[r] { out.data[p * q + r] = -Float.greatestFiniteMagnitude; continue }
                var dot: Float = 0
                for c in 0..<d { dot += e[base + c] * inv * qn[r * d + c] }
                out.data[p * q + r] = (dot + shift) * scale
            }
        }
        return out
    }

    /// The query embedding of a query picture (`image_guided_detection`): the class embedding [D]
    /// (not normalised) of the patch OWLv2 finds most object-like (argmax objectness) or OWL-ViT picks
    /// by `owlViTQueryPatch`, with that patch's index. nil when the picture has no patches.
    public func imageQuery(_ f: OWLImageFeatures, image b: Int) -> (embedding: [Float], patch: Int)? {
        let n = f.patches, d = f.classEmbeddings.lastDim
        let e = f.classEmbeddings(of: b)
        let index: Int?
        if let objectness = f.objectness {
            let row = objectness[(b * n)..<((b + 1) * n)]
            index = row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }.map { $0 - b * n }
        } else {
            index = owlViTQueryPatch(boxes: f.boxes(of: b), classEmbeddings: e, patches: n)
        }
        guard let index else { return nil }
        return (Array(e[(index * d)..<((index + 1) * d)]), index)
    }
}
