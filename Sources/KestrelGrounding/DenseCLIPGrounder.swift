import Foundation
import KestrelEngine
import KestrelImage
import KestrelKernels
import KestrelModels

/// Training-free dense grounding for any CLIP checkpoint (the default model included): the picture
/// made square without a crop (`SquareFit`), patch features in the joint space by a dense method
/// (`DenseMethod`: MaskCLIP, ClearCLIP, NACLIP; `VisionTransformer.denseFeatures`), the cosine of
/// each patch to the query embedding as the heat map (values in -1...1, on the patch grid, over the
/// picture), boxes from the map (`BoxesFromHeatMap`: threshold on the upsampled map, connected
/// components, several per query), each scored by its peak patch cosine, then the score threshold
/// and non-maximum suppression. With `refine`, each box kept is re-scored by the full image tower
/// on the crop (the crop's image embedding's cosine to the query), and that is its score.
///
/// Query embeddings are cached per text (LRU, `cache`), so a query asked of many pictures runs the
/// text tower once; an image query is the query picture's image embedding.
public final class DenseCLIPGrounder: Grounder {
    public let kind = "dense-clip"
    /// Chosen on held-out rendered scenes with the default model (docs/grounding-dense.md).
    public static let measuredThreshold: Float = 0.2
    public let defaultThreshold: Float
    public let embedder: Embedder
    public let method: DenseMethod
    public let fit: SquareFit
    /// Whether a text query is embedded through the prompt ensemble (`PromptTemplates.defaultEnsemble`,
    /// the mean of the normalised template embeddings) or as written.
    public let promptEnsemble: Bool
    public let boxes: BoxesFromHeatMap
    public let refine: Bool
    public let cache: QueryCache

    /// The measured defaults (docs/grounding-dense.md).
    public convenience init(embedder: Embedder) throws {
        try self.init(embedder: embedder, method: .standard)
    }

    public init(embedder: Embedder, method: DenseMethod, fit: SquareFit = .resize, promptEnsemble: Bool = false,
                boxes: BoxesFromHeatMap = BoxesFromHeatMap(), refine: Bool = false, threshold: Float? = nil,
                cacheCapacity: Int = 256) throws {
        self.embedder = embedder
        self.method = method
        self.fit = fit
        self.promptEnsemble = promptEnsemble
        self.boxes = boxes
        self.refine = refine
        defaultThreshold = threshold ?? Self.measuredThreshold
        cache = QueryCache(capacity: cacheCapacity)
    }

    /// The L2-normalised query embedding [E]. Throws `GroundingError.badQuery` for an empty text or
    /// an image the model cannot take, `GroundingError.nonFinite` when the tower gives NaN.
    public func queryEmbedding(_ query: GroundingQuery) throws -> [Float] {
        switch query {
        case .text(let text):
            let words = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !words.isEmpty else { throw GroundingError.badQuery("an empty text query") }
            return try cache.embedding(for: (promptEnsemble ? "ensemble:" : "text:") + words) {
                try embedText(words)
            }
        case .image(let image, let name):
            var hasher = Hasher()
            hasher.combine(image.pixels)
            hasher.combine(image.palette)
            let key = "image:\(image.width)x\(image.height):\(image.mode.rawValue):\(hasher.finalize())"
            return try cache.embedding(for: key) {
                let pixels: [Float]
                do { pixels = try embedder.pixels(image, name: name) } catch {
                    throw GroundingError.badQuery("query image \(name): \(error)")
                }
                return try finiteRow(try embedder.embedPixels([pixels]).data, "query image \(name)")
            }
        }
    }

    /// The L2-normalised embedding of a text query: as written, or (`promptEnsemble`) the class
    /// embedding zero-shot classification gives the label (`ZeroShotClassifier`: the normalised
    /// mean of its normalised template embeddings).
    private func embedText(_ words: String) throws -> [Float] {
        let row = promptEnsemble
            ? try ZeroShotClassifier(embedder: embedder, labels: [Self.strippingArticle(words)]).classEmbeddings.data
            : try embedder.embedTexts([words]).data                  // normalised
        return try finiteRow(row, "text query '\(words)'")
    }

    /// "a red circle" -> "red circle" (the templates bring their own article).
    static func strippingArticle(_ text: String) -> String {
        for article in ["a ", "an ", "the "] where text.lowercased().hasPrefix(article) && text.count > article.count {
            return String(text.dropFirst(article.count))
        }
        return text
    }

    private func finiteRow(_ v: [Float], _ what: String) throws -> [Float] {
        guard v.allSatisfy(\.isFinite) else { throw GroundingError.nonFinite(what) }
        return v
    }

    /// Patch features of the picture, each L2-normalised: ([N, E] row-major, grid side, region).
    /// Throws `ImageError` for a picture that cannot be converted, `GroundingError.nonFinite`.
    public func patchFeatures(_ image: DecodedImage) throws -> (features: [Float], grid: Int, region: PixelBox) {
        let s = embedder.model.config.imageSize
        let input = try SquareInput(image, fit: fit, preprocessor: embedder.preprocessor, size: s)
        var f = embedder.model.vision.denseFeatures(Tensor(shape: [1, 3, s, s], data: input.pixels), method: method)
        guard f.data.allSatisfy(\.isFinite) else { throw GroundingError.nonFinite("the picture's patch features") }
        l2Normalize(&f)
        return (f.data, embedder.model.config.patchesPerSide, input.region)
    }

    /// One heat map per query embedding: patch cosines on the grid over `region`.
    public static func heatMaps(features: [Float], grid: Int, region: PixelBox, queries: [[Float]]) -> [HeatMap] {
        let n = grid * grid
        return queries.map { q in
            let e = q.count
            var values = [Float](repeating: 0, count: n)
            for p in 0..<n {
                var dot: Float = 0
                for c in 0..<e { dot += features[p * e + c] * q[c] }
                values[p] = dot
            }
            return HeatMap(gridWidth: grid, gridHeight: grid, values: values, region: region)
        }
    }

    public func ground(_ image: DecodedImage, queries: [GroundingQuery], options: GroundingOptions) throws -> GroundingResult {
        let embeddings = try queries.map(queryEmbedding)
        let (features, grid, region) = try patchFeatures(image)
        let maps = Self.heatMaps(features: features, grid: grid, region: region, queries: embeddings)
        let (w, h) = image.fullSize
        let threshold = options.threshold ?? defaultThreshold
        // The picture as RGB for the crops of refinement: converted once, shared by every query.
        var rgb: (pixels: [UInt8], width: Int, height: Int)? = nil
        var detections: [Detection] = []
        for (q, map) in maps.enumerated() {
            // The threshold applies to the score returned: with refinement, the crop's cosine.
            detections += try boxes.detections(map, query: q, pictureWidth: w, pictureHeight: h, threshold: threshold,
                                               nmsIoU: options.nmsIoU, maxPerQuery: options.maxPerQuery) { found in
                guard refine else { return found }
                if rgb == nil { rgb = try SquareInput.rgb(image, preprocessor: embedder.preprocessor) }
                return try rescored(found, rgb: rgb!, fullSize: (w, h), query: embeddings[q])
            }
        }
        detections.sort { $0.score > $1.score }
        return GroundingResult(detections: detections, heatmaps: options.heatmaps ? maps : [])
    }

    /// Each detection's score replaced by the cosine of its crop's image embedding (box grown by
    /// a tenth on each side, resized to the model's square) to the query. `rgb`: the picture's
    /// pixels (`SquareInput.rgb`); `fullSize`: the original picture's size, the boxes' frame.
    func rescored(_ found: [Detection], rgb: (pixels: [UInt8], width: Int, height: Int), fullSize: (width: Int, height: Int),
                  query: [Float]) throws -> [Detection] {
        let (fullW, fullH) = fullSize
        let sx = Double(rgb.width) / Double(max(fullW, 1)), sy = Double(rgb.height) / Double(max(fullH, 1))
        let s = embedder.model.config.imageSize
        var pixels: [[Float]] = []
        for d in found {
            let mx = d.box.width * 0.1, my = d.box.height * 0.1
            let x0 = max(0, Int(((d.box.x0 - mx) * sx).rounded(.down))), y0 = max(0, Int(((d.box.y0 - my) * sy).rounded(.down)))
            let x1 = min(rgb.width, max(x0 + 1, Int(((d.box.x1 + mx) * sx).rounded(.up))))
            let y1 = min(rgb.height, max(y0 + 1, Int(((d.box.y1 + my) * sy).rounded(.up))))
            var crop = [UInt8](repeating: 0, count: (x1 - x0) * (y1 - y0) * 3)
            for y in y0..<y1 {
                let src = (y * rgb.width + x0) * 3, dst = (y - y0) * (x1 - x0) * 3
                for i in 0..<((x1 - x0) * 3) { crop[dst + i] = rgb.pixels[src + i] }
            }
            let input = try SquareInput(DecodedImage(width: x1 - x0, height: y1 - y0, mode: .rgb, pixels: crop), fit: .resize,
                                        preprocessor: embedder.preprocessor, size: s)
            pixels.append(input.pixels)
        }
        let e = try embedder.embedPixels(pixels)
        let dim = embedder.dimension
        return found.enumerated().map { i, d in
            var score: Float = 0
            for c in 0..<dim { score += e.data[i * dim + c] * query[c] }
            return Detection(query: d.query, box: d.box, score: score)
        }
    }
}
