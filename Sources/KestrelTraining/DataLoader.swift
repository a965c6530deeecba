import Foundation
import KestrelFiles
import KestrelImage
import KestrelTokenizer

/// Contrastive batches from a data folder built by `kestrel data build` (`manifest.jsonl`).
///
/// Only `split == "train"` entries are used. Each sample's source is drawn by the recipe's
/// weights; each source is walked in a seeded shuffled order (a new order every epoch). Each
/// sample gets its own generator (seeded from the loader's stream) for its caption choice, crop
/// and flip, so batches can be prepared on other threads and still be a pure function of
/// `State`: `batch(after:)` of the same state gives the same batch, bit for bit.
///
/// Images: decoded with KestrelImage, transparency composited over white, gray to RGB, shrunk
/// (antialiased bilinear) so the shorter side is at most the model's input size, kept in an
/// in-memory cache up to `cacheBytes`; then `Augment` (RandomResizedCrop, antialiased bilinear
/// resize, flip unless the caption says left/right) and normalisation with the model's mean and std.
/// Captions: one of the entry's captions, tokenized without padding, cut to the context length
/// keeping the end token.
public final class DataLoader: @unchecked Sendable {
    /// Where the loader is: everything a checkpoint needs to continue the same sequence.
    public struct State: Codable, Sendable, Equatable {
        public struct Source: Codable, Sendable, Equatable {
            public var name: String
            public var epoch: Int
            public var position: Int
        }
        public var sources: [Source]
        /// The stream that picks sources and seeds each sample's generator.
        public var rng: TrainingRNG
        /// Samples drawn so far.
        public var samples: Int
    }

    public struct Options: Sendable {
        public var imageSize: Int
        public var contextLength: Int
        public var mean: [Float] = PreprocessConfig.openAIMean
        public var std: [Float] = PreprocessConfig.openAIStd
        public var cropScale: (Double, Double) = (0.08, 1)
        public var cropRatio: (Double, Double) = (3.0 / 4.0, 4.0 / 3.0)
        public var flip = true
        /// Positive groups from labels (soft targets); false: hard targets (no groups).
        public var softLabels = true
        /// Byte budget of the decoded-image cache.
        public var cacheBytes = 6 << 30
        /// Threads that decode and augment one batch's samples.
        public var workers = 1
        /// Give each batch the boxes of its rendered scenes' objects and their phrases ("a red
        /// circle") for the region-phrase loss (`TrainingBatch.regions`).
        public var regions = false

        public init(imageSize: Int, contextLength: Int) { self.imageSize = imageSize; self.contextLength = contextLength }
    }

    public let folder: URL
    public let options: Options
    public let entries: [ManifestEntry]
    /// SHA-256 (hex) of the manifest bytes this loader parsed: stored in checkpoints and run.json.
    public let manifestSHA256: String
    /// Source names with weight > 0, sorted; their cumulative weights; entry indices per source.
    public let sourceNames: [String]
    private let cumulative: [Double]
    private let members: [[Int]]
    private let seed: UInt64
    private let tokenizer: CLIPTokenizer
    let cache: ImageCache
    private let permutations = PermutationCache()

    /// Reads `folder/manifest.jsonl`. Throws `DataLoaderError` naming the line or source at fault.
    public init(folder: URL, weights: [String: Double], seed: UInt64, tokenizer: CLIPTokenizer, options: Options) throws {
        self.folder = folder
        self.options = options
        self.seed = seed
        self.tokenizer = tokenizer
        cache = ImageCache(budget: options.cacheBytes)
        let manifestURL = folder.appendingPathComponent("manifest.jsonl")
        let bytes = try DataBuilder.readManifestBytes(manifestURL)
        manifestSHA256 = SHA256.hex(SHA256.hash(bytes))
        entries = try DataBuilder.parseManifest(bytes, path: manifestURL.path)
        sourceNames = weights.filter { $0.value > 0 }.keys.sorted()
        var members = [[Int]](repeating: [], count: sourceNames.count)
        let slot = Dictionary(uniqueKeysWithValues: sourceNames.enumerated().map { ($1, $0) })
        for (i, e) in entries.enumerated() where e.split == "train" {
            if let s = slot[e.source] { members[s].append(i) }
        }
        for (s, name) in sourceNames.enumerated() where members[s].isEmpty {
            throw DataLoaderError.emptySource(name: name, manifest: folder.appendingPathComponent("manifest.jsonl").path)
        }
        self.members = members
        let total = sourceNames.reduce(0) { $0 + weights[$1]! }
        var acc = 0.0
        cumulative = sourceNames.map { acc += weights[$0]! / total; return acc }
    }

    /// The state before the first batch.
    public func initialState() -> State {
        State(sources: sourceNames.map { .init(name: $0, epoch: 0, position: 0) },
              rng: TrainingRNG(seed: seed ^ 0x6C6F_6164_6572_2D31), samples: 0)
    }

    /// Entries used per source (train split).
    public var trainCount: [String: Int] {
        Dictionary(uniqueKeysWithValues: zip(sourceNames, members.map(\.count)))
    }

    // MARK: Batches

    /// One sample's plan: which entry, and its own generator.
    struct Plan: Sendable { var entry: Int; var rng: TrainingRNG }

    /// The next `count` samples after `state`, and the state after them.
    public func batch(count: Int, after state: State) throws -> (TrainingBatch, State) {
        var state = state
        guard state.sources.map(\.name) == sourceNames else {
            throw DataLoaderError.stateMismatch(expected: sourceNames, found: state.sources.map(\.name))
        }
        var plans = [Plan]()
        plans.reserveCapacity(count)
        for _ in 0..<count {
            let u = Double(state.rng.next() >> 11) / Double(1 << 53)
            let s = cumulative.firstIndex { u < $0 } ?? (cumulative.count - 1)
            var src = state.sources[s]
            let order = permutations.get(seed: seed, source: s, epoch: src.epoch, count: members[s].count)
            let entry = members[s][order[src.position]]
            src.position += 1
            if src.position == order.count { src.position = 0; src.epoch += 1 }
            state.sources[s] = src
            plans.append(Plan(entry: entry, rng: TrainingRNG(seed: state.rng.next())))
            state.samples += 1
        }
        let size = options.imageSize, plane = 3 * size * size
        let fixedPlans = plans
        // Every value is written by a sample below (no zero fill of ~38 MB per batch at 224).
        var pixels = [Float](unsafeUninitializedCapacity: count * plane) { _, n in n = count * plane }
        var tokens = [[Int]](repeating: [], count: count)
        var keys = [String](repeating: "", count: count)
        var objects = [[SampleRegion]](repeating: [], count: count)
        let failure = FirstError()
        pixels.withUnsafeMutableBufferPointer { px in
            nonisolated(unsafe) let base = px.baseAddress!
            tokens.withUnsafeMutableBufferPointer { tk in
                nonisolated(unsafe) let tb = tk.baseAddress!
                keys.withUnsafeMutableBufferPointer { kb in
                    nonisolated(unsafe) let kbase = kb.baseAddress!
                    objects.withUnsafeMutableBufferPointer { ob in
                        nonisolated(unsafe) let obase = ob.baseAddress!
                        let workers = max(1, min(options.workers, count))
                        DispatchQueue.concurrentPerform(iterations: workers) { w in
                            var k = w
                            while k < count {
                                do {
                                    let (t, key, regions) = try self.sample(fixedPlans[k], into: base + k * plane)
                                    tb[k] = t; kbase[k] = key; obase[k] = regions
                                } catch { failure.set(error) }
                                k += workers
                            }
                        }
                    }
                }
            }
        }
        if let error = failure.error { throw error }
        var groups: [Int]? = nil
        if options.softLabels {
            var ids = [String: Int]()
            groups = keys.map { key in
                if let g = ids[key] { return g }
                ids[key] = ids.count
                return ids.count - 1
            }
        }
        // Phrases in order of first appearance: the batch stays a pure function of the state.
        var phraseIndex = [String: Int](), phrases = [String](), regions = [RegionBox]()
        for (k, list) in objects.enumerated() {
            for o in list {
                let q = phraseIndex[o.phrase] ?? { phraseIndex[o.phrase] = phrases.count; phrases.append(o.phrase); return phrases.count - 1 }()
                regions.append(RegionBox(image: k, phrase: q, box: o.box))
            }
        }
        let phraseTokens = phrases.map { tokenizer.tokenize($0, contextLength: options.contextLength, pad: false) }
        return (TrainingBatch(pixels: pixels, tokens: tokens, groups: groups, regionPhrases: phraseTokens, regions: regions), state)
    }

    /// One object of a sample: its phrase and its box in the model input's pixels.
    struct SampleRegion: Sendable { var phrase: String; var box: [Double] }

    /// The boxes of `e`'s objects after the crop `box` (stored pixels, `image.scale` cached pixels
    /// each), the resize to `size` and the mirror: objects less than half inside the crop are left out.
    static func regions(of e: ManifestEntry, image: CachedImage, crop box: Augment.Box, size: Int, flip: Bool) -> [SampleRegion] {
        guard let objects = e.boxes else { return [] }
        let sx = Double(size) / Double(box.w), sy = Double(size) / Double(box.h)
        return objects.compactMap { o -> SampleRegion? in
            guard o.box.count == 4, o.box.allSatisfy(\.isFinite) else { return nil }
            let b = o.box.map { $0 * image.scale }
            let area = (b[2] - b[0]) * (b[3] - b[1])
            let x0 = max(b[0], Double(box.j)), x1 = min(b[2], Double(box.j + box.w))
            let y0 = max(b[1], Double(box.i)), y1 = min(b[3], Double(box.i + box.h))
            guard area > 0, x1 > x0, y1 > y0, (x1 - x0) * (y1 - y0) >= 0.5 * area else { return nil }
            var out = [(x0 - Double(box.j)) * sx, (y0 - Double(box.i)) * sy, (x1 - Double(box.j)) * sx, (y1 - Double(box.i)) * sy]
            if flip { out = [Double(size) - out[2], out[1], Double(size) - out[0], out[3]] }
            return SampleRegion(phrase: "\(DataText.article(o.colour)) \(o.colour) \(o.shape)", box: out)
        }
    }

    /// Decodes, augments and tokenizes one sample; returns its tokens and its positive-group key.
    private func sample(_ plan: Plan, into out: UnsafeMutablePointer<Float>) throws -> ([Int], String, [SampleRegion]) {
        var rng = plan.rng
        let e = entries[plan.entry]
        let caption = e.captions.isEmpty ? "" : e.captions[Int(rng.next() % UInt64(e.captions.count))]
        let image = try picture(plan.entry)
        let box = Augment.randomResizedCrop(width: image.width, height: image.height, scale: options.cropScale,
                                            ratio: options.cropRatio, rng: &rng)
        let coin = rng.next() >> 63 == 1
        let flip = options.flip && coin && !Augment.mentionsSide(caption)
        image.pixels.withUnsafeBufferPointer { p in
            Augment.cropResizeNormalise(p, width: image.width, height: image.height, box: box, size: options.imageSize,
                                        flip: flip, mean: options.mean, std: options.std, out: out)
        }
        let tokens = tokenizer.tokenize(caption, contextLength: options.contextLength, pad: false)
        let regions = options.regions ? Self.regions(of: e, image: image, crop: box, size: options.imageSize, flip: flip) : []
        return (tokens, e.group.map { "group:" + $0 } ?? "caption:" + caption, regions)
    }

    /// The entry's picture as RGB, from the cache or decoded now.
    func picture(_ index: Int) throws -> CachedImage {
        if let hit = cache.get(index) { return hit }
        let e = entries[index]
        let url = folder.appendingPathComponent(e.path)
        let image: CachedImage
        do {
            let bytes = try [UInt8](Data(contentsOf: url))
            // The manifest pins each picture: one changed since the data was built is refused
            // (a resumed run must see the data it started with).
            if let want = e.sha256, SHA256.hex(SHA256.hash(bytes)) != want {
                throw DataLoaderError.unreadableImage(path: url.path, reason:
                    "its SHA-256 differs from the manifest's (the picture changed since the data folder was built); rebuild the data folder with `kestrel data build`")
            }
            let decoded = try ImageDecoder().decode(bytes: bytes, name: url.path)
            var config = PreprocessConfig.huggingFace(size: options.imageSize)
            config.resize = nil
            config.crop = nil
            config.alpha = .compositeOnWhite
            let rgb = try Preprocessor(config: config).pixelsRGB(decoded)
            let small = Augment.shrink(rgb.pixels, width: rgb.width, height: rgb.height, shortSide: options.imageSize)
            image = CachedImage(pixels: small.pixels, width: small.width, height: small.height,
                                scale: Double(small.width) / Double(max(rgb.width, 1)))
        } catch {
            throw DataLoaderError.unreadableImage(path: url.path, reason: ErrorText.plain(error))
        }
        cache.put(index, image)
        return image
    }

    // MARK: Manifest

    /// Reads a manifest: `DataBuilder.readManifest`, the one reader.
    public static func readManifest(_ url: URL) throws -> [ManifestEntry] { try DataBuilder.readManifest(url) }
}

public enum DataLoaderError: Error, CustomStringConvertible, Sendable, Equatable {
    case missingManifest(path: String)
    case badManifestLine(path: String, line: Int, reason: String)
    case badManifestField(path: String, line: Int, field: String, reason: String)
    case emptySource(name: String, manifest: String)
    case unreadableImage(path: String, reason: String)
    case stateMismatch(expected: [String], found: [String])

    public var description: String {
        switch self {
        case .missingManifest(let path):
            return "no manifest at \(path): build the data folder with `kestrel data build` first"
        case .badManifestLine(let path, let line, let reason):
            return "\(path) line \(line): not a manifest entry (\(reason)); rebuild it with `kestrel data build`"
        case .badManifestField(let path, let line, let field, let reason):
            return "\(path) line \(line): field \(field) \(reason); fix the entry or rebuild the folder with `kestrel data build`"
        case .emptySource(let name, let manifest):
            return "source \"\(name)\" has a weight > 0 in the recipe but no training entries in \(manifest): give it weight 0 or rebuild the data"
        case .unreadableImage(let path, let reason):
            return "cannot read training image \(path): \(reason)"
        case .stateMismatch(let expected, let found):
            return "the checkpoint's loader walks sources \(found) but the recipe's are \(expected)"
        }
    }
}
