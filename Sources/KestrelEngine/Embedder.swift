import Foundation

/// Turns text and image files into CLIP embeddings with one model folder: its tokenizer
/// (the folder's vocab.json + merges.txt, else the bundled vocabulary), its preprocessing
/// (read from the folder) and both towers.
public final class Embedder: Sendable {
    public let model: CLIPModel
    public let tokenizer: CLIPTokenizer
    public let preprocessor: Preprocessor
    /// Texts per text-tower call and images per image-tower call.
    public let batchSize: Int
    /// Bounds the memory that concurrent image decodes hold together (see `prepare`).
    public let decodeBudget: MemoryBudget

    /// `orientation`: `.exif` (default) turns photos upright by their EXIF Orientation tag before
    /// preprocessing; `.ignore` uses the stored pixels, as the reference pipelines do.
    /// `decodeMemory`: bytes that concurrent image decodes may hold together (default
    /// `MemoryBudget.defaultDecodeCapacity`); an image that needs more is decoded alone.
    /// `precision`: the number format of the towers' products (`CLIPModel(directory:precision:)`;
    /// `model.precision` says what is used, `model.precisionNote` why it differs).
    /// `jpegDecoding`: `.fast` decodes large JPEGs at a reduced DCT scale before the exact
    /// resize; `.exact` decodes every pixel as the reference pipelines do (bit-identical input).
    public init(modelDirectory: URL, vocabulary: URL? = nil, alpha: PreprocessConfig.AlphaHandling? = nil,
                pixelLimit: Int? = nil, orientation: OrientationHandling = .exif,
                textNormalization: TextNormalization? = nil, batchSize: Int = 16, decodeMemory: Int? = nil,
                precision: Precision = .fp32, jpegDecoding: JPEGDecoding = Embedder.defaultJPEGDecoding) throws {
        guard batchSize >= 1 else { throw EngineError.badArgument("batchSize", "must be at least 1, got \(batchSize)") }
        if let decodeMemory, decodeMemory < 1 { throw EngineError.badArgument("decodeMemory", "must be at least 1 byte, got \(decodeMemory)") }
        decodeBudget = MemoryBudget(capacity: decodeMemory ?? MemoryBudget.defaultDecodeCapacity)
        if let pixelLimit, pixelLimit < 1 { throw EngineError.badArgument("pixelLimit", "must be at least 1, got \(pixelLimit)") }
        model = try CLIPModel(directory: modelDirectory, precision: precision)
        // vocab.json and merges.txt go together: one without the other is a missing file (the
        // tokenizer names it), not a reason to fall back to the bundled vocabulary.
        let hasVocab = FileManager.default.fileExists(atPath: modelDirectory.appendingPathComponent("vocab.json").path)
        // Text cleaning follows the checkpoint's ecosystem, as preprocessing does.
        tokenizer = try CLIPTokenizer(modelDirectory: modelDirectory, fallbackVocab: vocabulary ?? BundledFiles.vocabulary(),
                                      normalization: textNormalization ?? model.layout.textNormalization)
        // Ids the token embedding does not have would fail at the first text: say so at load.
        if tokenizer.vocabularySize > model.config.vocabSize {
            let source = hasVocab ? "the folder's vocab.json and merges.txt"
                : "the bundled OpenAI vocabulary, used because the folder has no vocab.json and merges.txt"
            throw ModelError.vocabularyMismatch(folder: modelDirectory, tokenizer: source, tokens: tokenizer.vocabularySize,
                                                modelTokens: model.config.vocabSize)
        }
        var config = try PreprocessConfig.load(modelDirectory: modelDirectory)
        if let alpha { config.alpha = alpha }
        if let crop = config.crop, crop.height != model.config.imageSize || crop.width != model.config.imageSize {
            throw EngineError.preprocessMismatch(crop: "\(crop.height)x\(crop.width)", model: model.config.imageSize, folder: modelDirectory.path)
        }
        preprocessor = Preprocessor(config: config, decoder: ImageDecoder(pixelLimit: pixelLimit ?? ImageDecoder.defaultPixelLimit,
                                                                          orientation: orientation, jpegDecoding: jpegDecoding))
        self.batchSize = batchSize
    }

    /// How JPEGs are decoded unless the caller says otherwise (see docs/benchmarks.md, "Ingest").
    public static let defaultJPEGDecoding: JPEGDecoding = .fast

    private init(copying e: Embedder, preprocessor: Preprocessor) {
        model = e.model
        tokenizer = e.tokenizer
        self.preprocessor = preprocessor
        batchSize = e.batchSize
        decodeBudget = e.decodeBudget
    }

    /// This embedder with another JPEG decoding; the model, tokenizer and decode budget are
    /// shared, not reloaded.
    public func with(jpegDecoding: JPEGDecoding) -> Embedder {
        var p = preprocessor
        p.decoder.jpegDecoding = jpegDecoding
        return Embedder(copying: self, preprocessor: p)
    }

    public var dimension: Int { model.config.embedDim }

    /// The largest image file read, in bytes (512 MiB). A bigger file is refused before any byte
    /// is read, as is anything that is not a regular file (a FIFO, a folder, `/dev/zero`).
    public static let imageFileByteLimit = ImageDecoder.fileByteLimit

    /// Token ids as the text tower takes them (context length of the model, end token kept last).
    public func tokenize(_ text: String) -> [Int] {
        tokenizer.tokenize(text, contextLength: model.config.contextLength, pad: false)
    }

    /// texts -> [N, E]; rows L2-normalised unless `normalize` is false.
    public func embedTexts(_ texts: [String], normalize: Bool = true) throws -> Tensor {
        var out = Tensor(shape: [texts.count, dimension])
        // Sort by length so each batch computes only as far as its longest text.
        let ids = texts.map(tokenize)
        let order = ids.indices.sorted { ids[$0].count < ids[$1].count }
        for start in stride(from: 0, to: order.count, by: batchSize) {
            let chunk = Array(order[start..<min(start + batchSize, order.count)])
            let e = try model.encodeText(chunk.map { ids[$0] })
            for (row, i) in chunk.enumerated() {
                out.data.replaceSubrange((i * dimension)..<((i + 1) * dimension), with: e.data[(row * dimension)..<((row + 1) * dimension)])
            }
        }
        if normalize { l2Normalize(&out) }
        return out
    }

    /// Preprocessed pixels [N * 3 * S * S] -> [N, E].
    public func embedPixels(_ pixels: [[Float]], normalize: Bool = true) throws -> Tensor {
        let s = model.config.imageSize
        var out = Tensor(shape: [pixels.count, dimension])
        for start in stride(from: 0, to: pixels.count, by: batchSize) {
            let chunk = pixels[start..<min(start + batchSize, pixels.count)]
            let e = try model.encodeImages(Tensor(shape: [chunk.count, 3, s, s], data: chunk.flatMap { $0 }))
            out.data.replaceSubrange((start * dimension)..<((start + chunk.count) * dimension), with: e.data)
        }
        if normalize { l2Normalize(&out) }
        return out
    }

    /// Preprocesses a decoded image into the [3, S, S] pixels the image tower takes. `name` is
    /// unused in messages: the caller puts the file's name in front of an error.
    public func pixels(_ image: DecodedImage, name: String) throws -> [Float] {
        let p = try preprocessor(image)
        let s = model.config.imageSize
        guard p.height == s, p.width == s else {
            throw EngineError.preprocessMismatch(crop: "\(p.height)x\(p.width)", model: s, folder: model.directory.path)
        }
        return p.pixels
    }

    /// Decodes and preprocesses one image file held in memory, inside `decodeBudget`: the header
    /// is read first (a file too small for the size it claims fails here, before any pixel
    /// memory), then the decode waits until its estimated memory fits the budget. Only the
    /// preprocessed pixels are kept; the decoded image is released inside the reservation.
    /// Errors name the file (`ImageError`, `EngineError.preprocessMismatch`).
    public func prepare(bytes: [UInt8], name: String) throws -> PreparedImage {
        let estimate = try preprocessor.memoryEstimate(bytes: bytes, name: name)
        return try decodeBudget.withReservation(estimate) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let image = try preprocessor.decode(bytes: bytes, name: name)
            let t1 = DispatchTime.now().uptimeNanoseconds
            let p = try pixels(image, name: name)
            let t2 = DispatchTime.now().uptimeNanoseconds
            let size = image.fullSize
            return PreparedImage(width: size.0, height: size.1, pixels: p,
                                 decodeSeconds: Double(t1 - t0) / 1e9, preprocessSeconds: Double(t2 - t1) / 1e9)
        }
    }

    /// Reads, decodes and preprocesses each file (in parallel, inside `decodeBudget`); failures
    /// are returned per file, never thrown.
    public func pixels(_ paths: [FilePathBytes]) -> [Result<[Float], Error>] {
        parallelMap(paths) { path in
            Result { try self.prepare(bytes: FileSystem.readFile(path, limit: Embedder.imageFileByteLimit), name: path.description).pixels }
        }
    }

    /// Embeds image files; a file that cannot be read or decoded gives its error in place.
    public func embedImages(_ paths: [FilePathBytes], normalize: Bool = true) -> [Result<[Float], Error>] {
        var results = pixels(paths)
        let good = results.indices.filter { if case .success = results[$0] { return true } else { return false } }
        let batch = good.map { i -> [Float] in if case .success(let p) = results[i] { return p } else { return [] } }
        do {
            let e = try embedPixels(batch, normalize: normalize)
            for (row, i) in good.enumerated() {
                results[i] = .success(Array(e.data[(row * dimension)..<((row + 1) * dimension)]))
            }
        } catch {
            for i in good { results[i] = .failure(error) }
        }
        return results
    }
}

/// An image decoded and preprocessed by `Embedder.prepare`.
public struct PreparedImage: Sendable {
    /// The decoded size in pixels (upright, after any EXIF rotation).
    public var width: Int
    public var height: Int
    /// The image tower's input, [3, S, S].
    public var pixels: [Float]
    /// Wall time of the decode and of the preprocessing, in seconds.
    public var decodeSeconds: Double
    public var preprocessSeconds: Double
}
