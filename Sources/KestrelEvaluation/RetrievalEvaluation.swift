// Image-text retrieval evaluated: embed the distinct images and every caption, rank by cosine
// similarity both ways, and report recall@1/5/10 with bootstrap intervals over queries.
//   text -> image: each caption is a query; its one relevant item is its image.
//   image -> text: each image is a query; its relevant items are all of its captions.
import Foundation
import KestrelEngine

/// Recall@k of one direction, with its chance baseline.
public struct RecallAtK: Sendable {
    public var k: Int
    public var recall: Interval
    /// Recall@k of a random ranking (`RetrievalMetrics.chance`): k/N with one relevant item.
    public var chance: Double
}

/// The metrics of one retrieval evaluation.
public struct RetrievalScores: Sendable {
    /// Distinct images and captions measured.
    public var images: Int
    public var captions: Int
    public var textToImage: [RecallAtK]
    public var imageToText: [RecallAtK]
    /// First-relevant ranks (0 = best) per caption and per image, for further analysis.
    public var textToImageRanks: [Int]
    public var imageToTextRanks: [Int]
    public var settings: BootstrapSettings
}

/// One retrieval run: the scores and what failed.
public struct RetrievalRun: Sendable {
    public var scores: RetrievalScores
    public var failed: [FailedInput]
}

public enum RetrievalEvaluation {
    /// The k of recall@k reported.
    public static let ks = [1, 5, 10]

    /// Ranks and recall@k from normalised embeddings: `images` [I, E], `captions` [T, E] and the
    /// image of each caption, `captionImage` [T] in 0..<I. Similarities are computed in blocks
    /// of 256 queries ([256, G] at a time, never the full matrix). Bootstrap: queries resampled,
    /// each direction on its own. Throws `EvaluationError` on mismatched sizes or no queries.
    public static func compute(images: Tensor, captions: Tensor, captionImage: [Int], settings: BootstrapSettings,
                               ks: [Int] = RetrievalEvaluation.ks) throws -> RetrievalScores {
        let i = images.shape.first ?? 0, t = captions.shape.first ?? 0
        guard i > 0, t > 0 else { throw EvaluationError.nothingToEvaluate("\(i) images and \(t) captions") }
        guard images.lastDim == captions.lastDim else {
            throw EvaluationError.badArgument("captions", "have \(captions.lastDim) dimensions, images \(images.lastDim)")
        }
        guard captionImage.count == t, captionImage.allSatisfy({ (0..<i).contains($0) }) else {
            throw EvaluationError.badArgument("captionImage", "must give an image in 0..<\(i) for each of the \(t) captions")
        }
        var captionsOf = [[Int]](repeating: [], count: i)
        for (c, img) in captionImage.enumerated() { captionsOf[img].append(c) }
        let t2i = ranks(queries: captions, gallery: images, relevant: captionImage.map { [$0] })
        let i2t = ranks(queries: images, gallery: captions, relevant: captionsOf)
        func direction(_ r: [Int], gallery: Int, relevantCounts: [Int]) throws -> [RecallAtK] {
            let intervals = try Bootstrap.intervals(n: r.count, settings: settings) { ix in
                ks.map { RetrievalMetrics.recall(ranks: r, k: $0, indices: ix) }
            }
            return zip(ks, intervals).map {
                RecallAtK(k: $0, recall: $1, chance: RetrievalMetrics.chance(gallery: gallery, relevantCounts: relevantCounts, k: $0))
            }
        }
        return RetrievalScores(
            images: i, captions: t,
            textToImage: try direction(t2i, gallery: i, relevantCounts: [Int](repeating: 1, count: t)),
            imageToText: try direction(i2t, gallery: t, relevantCounts: captionsOf.map(\.count)),
            textToImageRanks: t2i, imageToTextRanks: i2t, settings: settings)
    }

    /// First-relevant rank of each query row of `queries` [Q, E] against `gallery` [G, E].
    static func ranks(queries: Tensor, gallery: Tensor, relevant: [[Int]]) -> [Int] {
        let q = queries.shape[0], g = gallery.shape[0], e = queries.lastDim
        var out: [Int] = []
        out.reserveCapacity(q)
        for start in stride(from: 0, to: q, by: 256) {
            let end = min(start + 256, q)
            let block = Tensor(shape: [end - start, e], data: Array(queries.data[(start * e)..<(end * e)]))
            let s = matmul(block, gallery, transposeB: true)   // [b, G]
            for row in 0..<(end - start) {
                out.append(RetrievalMetrics.firstRelevantRank(scores: s.data[(row * g)..<((row + 1) * g)], relevant: relevant[start + row]))
            }
        }
        return out
    }

    /// Embeds the distinct images of `pairs` (in order of first appearance) and every caption
    /// whose image could be used, then `compute`s. Images that fail are returned in `failed`
    /// (their captions are left out) and passed to `failure` as they happen; `progress(done,
    /// total)` follows the image batches.
    public static func run(embedder: Embedder, pairs: [CaptionedImage], settings: BootstrapSettings,
                           progress: ((Int, Int) -> Void)? = nil, failure: ((FailedInput) -> Void)? = nil) throws -> RetrievalRun {
        var order: [FilePathBytes] = [], seen: [FilePathBytes: Int] = [:]
        for p in pairs where seen[p.path] == nil { seen[p.path] = order.count; order.append(p.path) }
        var vectors: [Float] = [], row: [Int: Int] = [:], failed: [FailedInput] = []
        for start in stride(from: 0, to: order.count, by: embedder.batchSize) {
            let batch = Array(order[start..<min(start + embedder.batchSize, order.count)])
            for (offset, result) in embedder.embedImages(batch).enumerated() {
                switch result {
                case .failure(let error):
                    failed.append(FailedInput(path: batch[offset], error: "\(error)")); failure?(failed.last!)
                case .success(let v):
                    guard v.allSatisfy(\.isFinite) else {
                        failed.append(FailedInput(path: batch[offset], error: FailedInput.nonFiniteImage)); failure?(failed.last!)
                        continue
                    }
                    row[start + offset] = row.count; vectors += v
                }
            }
            progress?(min(start + embedder.batchSize, order.count), order.count)
        }
        let withImage = pairs.filter { row[seen[$0.path]!] != nil }
        guard !withImage.isEmpty else {
            throw EvaluationError.nothingToEvaluate("none of the \(order.count) images could be read (see the errors above)")
        }
        // Captions whose embedding is not finite are failed inputs too (named by their image).
        let embedded = try embedder.embedTexts(withImage.map(\.caption), normalize: true)
        let e = embedder.dimension
        var kept: [CaptionedImage] = [], captionVectors: [Float] = []
        for (c, pair) in withImage.enumerated() {
            let v = embedded.data[(c * e)..<((c + 1) * e)]
            guard v.allSatisfy(\.isFinite) else {
                failed.append(FailedInput(path: pair.path, error: "\(pair.path): the model gave a non-finite embedding for its caption \"\(PathText.escapeControls(pair.caption))\" (NaN or infinity); check the model's weights"))
                failure?(failed.last!)
                continue
            }
            kept.append(pair); captionVectors += v
        }
        guard !kept.isEmpty else {
            throw EvaluationError.nothingToEvaluate("no caption of the \(withImage.count) could be embedded (see the errors above)")
        }
        let captions = Tensor(shape: [kept.count, e], data: captionVectors)
        let images = Tensor(shape: [row.count, e], data: vectors)
        let scores = try compute(images: images, captions: captions, captionImage: kept.map { row[seen[$0.path]!]! }, settings: settings)
        return RetrievalRun(scores: scores, failed: failed)
    }
}
