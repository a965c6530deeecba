import Foundation
import KestrelEngine
import KestrelImage
import KestrelKernels
import KestrelModels
import KestrelTokenizer

/// What an OWL detector computes for one picture before post-processing (for parity checks and tools).
public struct OWLRawOutput: Sendable {
    /// [N, Q] class logits, N = grid^2 patches (rows y then x), Q the queries in call order.
    public var logits: Tensor
    /// [N, 4] normalised (cx, cy, w, h) in the model's square input.
    public var boxes: Tensor
    /// OWLv2's objectness logits [N]; nil for OWL-ViT.
    public var objectness: [Float]?
    /// For each image query, the query picture's patch whose embedding was used (nil for text queries).
    public var queryPatches: [Int?]
    /// The picture's input and its box scale.
    public var input: OWLInput
}

/// OWL-ViT / OWLv2 open-vocabulary detection (Minderer et al. 2022, 2023) with a Hugging Face
/// checkpoint folder: preprocessing as transformers' default image processors (`OWLPreprocess`),
/// the towers and heads (`OWLModel`), and post-processing as `post_process_object_detection`:
/// each patch's box goes to the query with the highest logit, scored sigmoid(logit), kept when the
/// score is above the threshold (default 0.1), in the original picture's pixels (not clipped: a box
/// may reach past the picture's edge, as transformers reports it). Then non-maximum suppression per
/// query (`GroundingOptions.nmsIoU`; 1 keeps every box) and at most `maxPerQuery` boxes per query.
/// Text queries: the CLIP tokenizer of the folder (vocab.json, merges.txt), at most 16 tokens with
/// the start and end tokens; their embeddings are cached (least recently used, `textCacheCapacity`).
/// Image queries: the query picture's best box embedding (`OWLModel.imageQuery`), kept for the
/// last 8 query pictures.
public final class OWLDetector: Grounder {
    public let kind: String
    public let defaultThreshold: Float = 0.1
    public let model: OWLModel
    public let tokenizer: CLIPTokenizer
    public let preprocess: OWLPreprocess
    /// Text embeddings kept for repeated queries.
    public static let textCacheCapacity = 256
    let cache = QueryCache(capacity: OWLDetector.textCacheCapacity)
    /// Image queries: the query picture's tower runs once for a run over many pictures.
    let imageCache = OWLImageQueryCache(capacity: 8)

    /// Throws `ModelError` naming the file or field at fault (config, checkpoint tensors,
    /// preprocessor_config.json, tokenizer files).
    public init(directory: URL, precision: Precision = .fp32) throws {
        model = try OWLModel(directory: directory, precision: precision)
        kind = model.kind.rawValue
        tokenizer = try CLIPTokenizer(modelDirectory: directory, fallbackVocab: try BundledFiles.vocabulary(), normalization: .huggingFace)
        if tokenizer.vocabularySize > model.config.clip.vocabSize {
            throw ModelError.vocabularyMismatch(folder: directory, tokenizer: "the folder's vocab.json and merges.txt",
                                                tokens: tokenizer.vocabularySize, modelTokens: model.config.clip.vocabSize)
        }
        preprocess = try OWLPreprocess.load(folder: directory, kind: model.kind, imageSize: model.config.clip.imageSize)
    }

    /// Text cache statistics (hits, misses).
    public var textCacheStatistics: (hits: Int, misses: Int) { cache.statistics }

    /// The token ids of a text query: start token, BPE tokens, end token; at most the model's
    /// context (16). Throws `GroundingError.badQuery` for an empty or too long text.
    public func tokenIDs(_ text: String) throws -> [Int] {
        let context = model.config.clip.contextLength
        let ids = tokenizer.tokenize(text, contextLength: Int.max / 2, pad: false)
        guard ids.count > 2 else { throw GroundingError.badQuery("\(GroundingQuery.quoted(text)) has no tokens") }
        guard ids.count <= context else {
            throw GroundingError.badQuery("\(GroundingQuery.quoted(text)) is \(ids.count) tokens with the start and end tokens; OWL models take at most \(context)")
        }
        return ids
    }

    public func check(text: String) throws { _ = try tokenIDs(text) }

    /// Query embeddings [Q, D] for `queries` (texts from the cache when seen before), and for image
    /// queries the patch of the query picture used.
    func queryEmbeddings(_ queries: [GroundingQuery]) throws -> (Tensor, [Int?]) {
        let d = model.config.clip.text.width
        var rows = [[Float]](repeating: [], count: queries.count)
        var patches = [Int?](repeating: nil, count: queries.count)
        var missing: [(Int, String, [Int])] = []
        for (i, q) in queries.enumerated() {
            switch q {
            case .text(let t):
                if let e = cache.cached(t) { rows[i] = e } else { missing.append((i, t, try tokenIDs(t))) }
            case .image(let picture, let name):
                if let known = imageCache.get(picture) {
                    rows[i] = known.embedding
                    patches[i] = known.patch
                    continue
                }
                let input: OWLInput
                do { input = try preprocess(picture) } catch { throw GroundingError.badQuery("image query \(name): \(error)") }
                let s = model.config.clip.imageSize
                let f = try model.imageFeatures(Tensor(shape: [1, 3, s, s], data: input.pixels))
                guard let chosen = model.imageQuery(f, image: 0) else { throw GroundingError.badQuery("image query \(name): no box") }
                rows[i] = chosen.embedding
                patches[i] = chosen.patch
                imageCache.put(picture, embedding: chosen.embedding, patch: chosen.patch)
            }
        }
        if !missing.isEmpty {
            let e = try model.textEmbeddings(missing.map(\.2))
            for (row, (i, t, _)) in missing.enumerated() {
                rows[i] = Array(e.data[(row * d)..<((row + 1) * d)])
                cache.store(t, rows[i])
            }
        }
        return (Tensor(shape: [queries.count, d], data: rows.flatMap { $0 }), patches)
    }

    /// Logits, boxes and objectness for one picture, before thresholds (parity checks, tools).
    public func raw(_ image: DecodedImage, queries: [GroundingQuery]) throws -> OWLRawOutput {
        let input = try preprocess(image)
        return try raw(input, queries: queries)
    }

    /// The same from a preprocessed input.
    public func raw(_ input: OWLInput, queries: [GroundingQuery]) throws -> OWLRawOutput {
        let s = model.config.clip.imageSize
        guard input.pixels.count == 3 * s * s else { throw ModelError.badPixels(expected: 3 * s * s, found: input.pixels.count) }
        let (q, patches) = try queryEmbeddings(queries)
        let f = try model.imageFeatures(Tensor(shape: [1, 3, s, s], data: input.pixels))
        let logits = try model.logits(f, image: 0, queries: q)
        if let bad = logits.data.firstIndex(where: { !$0.isFinite }) {
            throw GroundingError.nonFinite("the logits of patch \(bad / max(queries.count, 1))")
        }
        return OWLRawOutput(logits: logits, boxes: Tensor(shape: [f.patches, 4], data: f.boxes(of: 0)), objectness: f.objectness,
                            queryPatches: patches, input: input)
    }

    /// Boxes before non-maximum suppression, as `post_process_object_detection`: one per patch
    /// whose best query scores above `threshold`, in the picture's pixels, best first.
    public static func detections(_ raw: OWLRawOutput, threshold: Float) -> [Detection] {
        let n = raw.boxes.rows, q = raw.logits.lastDim
        guard q > 0 else { return [] }
        var out: [Detection] = []
        for p in 0..<n {
            var best = 0
            for j in 1..<q where raw.logits.data[p * q + j] > raw.logits.data[p * q + best] { best = j }
            let score = owlSigmoid(raw.logits.data[p * q + best])
            guard score > threshold else { continue }
            let (x0, y0, x1, y1) = owlCorners(raw.boxes.data[(4 * p)..<(4 * p + 4)])
            let (sx, sy) = (raw.input.scaleX, raw.input.scaleY)
            out.append(Detection(query: best, box: PixelBox(x0: Double(x0) * sx, y0: Double(y0) * sy, x1: Double(x1) * sx, y1: Double(y1) * sy),
                                 score: score))
        }
        return out
    }

    /// One heat map per query: sigmoid of the query's logit per patch on the g x g grid, covering the
    /// model's square input mapped back to the picture: (0, 0, W, H) for OWL-ViT, (0, 0, max, max) for OWLv2.
    public func heatmaps(_ raw: OWLRawOutput) -> [HeatMap] {
        let g = model.config.gridSize, q = raw.logits.lastDim
        let region = PixelBox(x0: 0, y0: 0, x1: raw.input.scaleX, y1: raw.input.scaleY)
        return (0..<q).map { j in
            HeatMap(gridWidth: g, gridHeight: g, values: (0..<(g * g)).map { owlSigmoid(raw.logits.data[$0 * q + j]) }, region: region)
        }
    }

    public func ground(_ image: DecodedImage, queries: [GroundingQuery], options: GroundingOptions) throws -> GroundingResult {
        guard !queries.isEmpty else { throw GroundingError.badQuery("no queries") }
        let r = try raw(image, queries: queries)
        let found = Self.detections(r, threshold: options.threshold ?? defaultThreshold)
        let kept = nonMaximumSuppression(found, iou: options.nmsIoU, maxPerQuery: options.maxPerQuery)
        return GroundingResult(detections: kept, heatmaps: options.heatmaps ? heatmaps(r) : [])
    }
}
