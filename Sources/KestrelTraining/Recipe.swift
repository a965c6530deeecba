import Foundation
import KestrelImage

/// A training recipe: everything `kestrel train` needs to reproduce a run, read from a JSON file
/// with `"format": "kestrel-recipe"` and `"version": 1` (see recipes/default.json). Keys are
/// snake_case; every key is required except `freeze` (default none). An unknown key, a missing
/// key or a value out of range is a `RecipeError` naming the field.
public struct Recipe: Codable, Sendable, Equatable {
    public static let format = "kestrel-recipe"
    public static let currentVersion = 1

    /// The architecture of a model trained from scratch (Hugging Face `CLIPConfig` names in snake_case).
    public struct ModelInit: Codable, Sendable, Equatable {
        public var imageSize: Int, patchSize: Int
        public var width: Int, layers: Int, heads: Int, mlpWidth: Int
        /// "quick_gelu", "gelu" or "gelu_pytorch_tanh" (both towers).
        public var activation: String
        public var textWidth: Int, textLayers: Int, textHeads: Int, textMlpWidth: Int
        public var contextLength: Int
        public var embedDim: Int
        /// How many of CLIP's BPE merges the vocabulary keeps (its first N; 256 + 256 + N + 2 tokens).
        public var vocabMerges: Int

        enum CodingKeys: String, CodingKey {
            case imageSize = "image_size", patchSize = "patch_size", width, layers, heads, mlpWidth = "mlp_width"
            case activation, textWidth = "text_width", textLayers = "text_layers", textHeads = "text_heads"
            case textMlpWidth = "text_mlp_width", contextLength = "context_length", embedDim = "embed_dim"
            case vocabMerges = "vocab_merges"
        }
    }

    /// Either a new model (`{"init": {...}}`) or fine-tuning of a model folder (`{"from": "path"}`).
    public struct ModelSource: Codable, Sendable, Equatable {
        public var initial: ModelInit?
        /// A model folder (Hugging Face or OpenCLIP layout), relative to the recipe file's folder
        /// or absolute.
        public var from: String?
        enum CodingKeys: String, CodingKey { case initial = "init", from }
    }

    public struct DataSpec: Codable, Sendable, Equatable {
        /// A folder built by `kestrel data build` (holds manifest.jsonl), relative to the recipe
        /// file's folder or absolute.
        public var folder: String
        /// Sampling weight per source (`DataBuildOptions.allSources`); a
        /// sample's source is drawn with probability weight / sum. 0 leaves a source out.
        public var sources: [String: Double]
    }

    public struct Augmentation: Codable, Sendable, Equatable {
        /// torchvision RandomResizedCrop `scale` (fraction of the area, [lo, hi] within (0, 1]) and
        /// `ratio` (w / h, [lo, hi] within [0.01, 100]).
        public var cropScale: [Double]
        public var cropRatio: [Double]
        /// Horizontal flip with p = 0.5, never when the caption says "left" or "right".
        public var flip: Bool
        enum CodingKeys: String, CodingKey { case cropScale = "crop_scale", cropRatio = "crop_ratio", flip }
    }

    public var format: String
    public var version: Int
    public var model: ModelSource
    public var data: DataSpec
    /// Samples per optimiser step, and per forward/backward (gradient accumulation when smaller).
    public var batchSize: Int
    public var microBatchSize: Int
    public var steps: Int
    public var learningRate: Double, warmupSteps: Int, minLearningRate: Double
    public var weightDecay: Double, beta1: Double, beta2: Double, eps: Double
    /// Global-norm clipping threshold; 0 disables clipping.
    public var gradClipNorm: Double
    public var seed: UInt64
    public var threads: Int
    /// "soft-label": samples sharing a manifest label are positives of each other; "hard": only the pair.
    public var targets: String
    public var augmentation: Augmentation
    public var checkpointEvery: Int
    public var logEvery: Int
    /// Tensor-name prefixes kept frozen ("vision.", "text.block0."...): each ends with "." or is a
    /// whole tensor name (checked against the model by `Trainer`).
    public var freeze: [String]
    /// "f16" or "f32": the dtype of the exported model.safetensors.
    public var exportDType: String
    /// Weight of the region-phrase loss on the MaskCLIP dense path (`CLIPGraph.regionLossWeight`,
    /// `TrainOps.regionLoss`), fed by the boxes of the data's rendered scenes; nil or 0: off.
    /// Left out of the canonical JSON when nil, so older recipes keep their digests.
    public var regionLossWeight: Double?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case format, version, model, data, batchSize = "batch_size", microBatchSize = "micro_batch_size", steps
        case learningRate = "learning_rate", warmupSteps = "warmup_steps", minLearningRate = "min_learning_rate"
        case weightDecay = "weight_decay", beta1, beta2, eps, gradClipNorm = "grad_clip_norm", seed, threads, targets
        case augmentation, checkpointEvery = "checkpoint_every", logEvery = "log_every", freeze
        case exportDType = "export_dtype", regionLossWeight = "region_loss_weight"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(String.self, forKey: .format)
        version = try c.decode(Int.self, forKey: .version)
        model = try c.decode(ModelSource.self, forKey: .model)
        data = try c.decode(DataSpec.self, forKey: .data)
        batchSize = try c.decode(Int.self, forKey: .batchSize)
        microBatchSize = try c.decode(Int.self, forKey: .microBatchSize)
        steps = try c.decode(Int.self, forKey: .steps)
        learningRate = try c.decode(Double.self, forKey: .learningRate)
        warmupSteps = try c.decode(Int.self, forKey: .warmupSteps)
        minLearningRate = try c.decode(Double.self, forKey: .minLearningRate)
        weightDecay = try c.decode(Double.self, forKey: .weightDecay)
        beta1 = try c.decode(Double.self, forKey: .beta1)
        beta2 = try c.decode(Double.self, forKey: .beta2)
        eps = try c.decode(Double.self, forKey: .eps)
        gradClipNorm = try c.decode(Double.self, forKey: .gradClipNorm)
        seed = try c.decode(UInt64.self, forKey: .seed)
        threads = try c.decode(Int.self, forKey: .threads)
        targets = try c.decode(String.self, forKey: .targets)
        augmentation = try c.decode(Augmentation.self, forKey: .augmentation)
        checkpointEvery = try c.decode(Int.self, forKey: .checkpointEvery)
        logEvery = try c.decode(Int.self, forKey: .logEvery)
        freeze = try c.decodeIfPresent([String].self, forKey: .freeze) ?? []
        exportDType = try c.decode(String.self, forKey: .exportDType)
        regionLossWeight = try c.decodeIfPresent(Double.self, forKey: .regionLossWeight)
    }

    /// The micro-batches per step.
    public var accumulationSteps: Int { batchSize / max(1, microBatchSize) }

    // MARK: Reading

    /// Reads and checks a recipe file. Throws `RecipeError` naming the file and field.
    public static func load(_ url: URL) throws -> Recipe {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RecipeError(file: url.path, field: nil, reason: "cannot be read (missing or not a file)")
        }
        return try decode(data, file: url.path)
    }

    /// Parses and checks recipe JSON; `file` names it in errors.
    public static func decode(_ data: Data, file: String) throws -> Recipe {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw RecipeError(file: file, field: nil, reason: "is " + JSONDiagnostics.invalidJSON(error, data))
        }
        guard let root = object as? [String: Any] else {
            throw RecipeError(file: file, field: nil, reason: "the top level must be a JSON object")
        }
        guard root["format"] as? String == format else {
            throw RecipeError(file: file, field: "format", reason: "must be \"\(format)\"; is this a recipe file?")
        }
        try checkKeys(root, allowed: CodingKeys.allCases.map(\.rawValue), path: "", file: file)
        if let m = root["model"] as? [String: Any] {
            try checkKeys(m, allowed: ["init", "from"], path: "model.", file: file)
            if let i = m["init"] as? [String: Any] {
                try checkKeys(i, allowed: ["image_size", "patch_size", "width", "layers", "heads", "mlp_width", "activation",
                                           "text_width", "text_layers", "text_heads", "text_mlp_width", "context_length",
                                           "embed_dim", "vocab_merges"], path: "model.init.", file: file)
            }
        }
        if let d = root["data"] as? [String: Any] { try checkKeys(d, allowed: ["folder", "sources"], path: "data.", file: file) }
        if let a = root["augmentation"] as? [String: Any] {
            try checkKeys(a, allowed: ["crop_scale", "crop_ratio", "flip"], path: "augmentation.", file: file)
        }
        try checkWholeNumbers(root, file: file)
        let recipe: Recipe
        do { recipe = try JSONDecoder().decode(Recipe.self, from: data) } catch let error as DecodingError {
            throw RecipeError(decoding: error, file: file)
        }
        try recipe.validate(file: file)
        return recipe
    }

    private static func checkKeys(_ object: [String: Any], allowed: [String], path: String, file: String) throws {
        for key in object.keys.sorted() where !allowed.contains(key) {
            throw RecipeError(file: file, field: path + key, reason: "is not a recipe field (known: \(allowed.joined(separator: ", ")))")
        }
    }

    /// Checks every number and name; throws `RecipeError` naming the first bad field.
    public func validate(file: String) throws {
        func need(_ ok: Bool, _ field: String, _ reason: String) throws {
            if !ok { throw RecipeError(file: file, field: field, reason: reason) }
        }
        try need(version == Recipe.currentVersion, "version", "is \(version); this kestrel reads version \(Recipe.currentVersion)")
        try need((model.initial == nil) != (model.from == nil), "model", "must hold exactly one of \"init\" or \"from\"")
        if let i = model.initial {
            let positive: [(String, Int)] = [
                ("image_size", i.imageSize), ("patch_size", i.patchSize), ("width", i.width), ("layers", i.layers),
                ("heads", i.heads), ("mlp_width", i.mlpWidth), ("text_width", i.textWidth), ("text_layers", i.textLayers),
                ("text_heads", i.textHeads), ("text_mlp_width", i.textMlpWidth), ("embed_dim", i.embedDim)]
            for (name, value) in positive { try need(value > 0 && value <= 65_536, "model.init.\(name)", "must be in 1...65536, got \(value)") }
            try need(i.imageSize % i.patchSize == 0, "model.init.patch_size", "(\(i.patchSize)) must divide image_size (\(i.imageSize))")
            try need(i.width % i.heads == 0, "model.init.heads", "(\(i.heads)) must divide width (\(i.width))")
            try need(i.textWidth % i.textHeads == 0, "model.init.text_heads", "(\(i.textHeads)) must divide text_width (\(i.textWidth))")
            try need((2...77).contains(i.contextLength), "model.init.context_length", "must be in 2...77, got \(i.contextLength)")
            try need((0...48_894).contains(i.vocabMerges), "model.init.vocab_merges", "must be in 0...48894 (CLIP's merge list), got \(i.vocabMerges)")
            try need(["quick_gelu", "gelu", "gelu_pytorch_tanh"].contains(i.activation), "model.init.activation",
                     "must be \"quick_gelu\", \"gelu\" or \"gelu_pytorch_tanh\", got \"\(i.activation)\"")
        }
        if let from = model.from { try need(!from.isEmpty, "model.from", "must name a model folder") }
        try need(!data.folder.isEmpty, "data.folder", "must name a data folder built by `kestrel data build`")
        let known = DataBuildOptions.allSources
        for (name, w) in data.sources.sorted(by: { $0.key < $1.key }) {
            try need(known.contains(name), "data.sources.\(name)", "is not a source (known: \(known.joined(separator: ", ")))")
            try need(w.isFinite && w >= 0, "data.sources.\(name)", "weight must be a finite number >= 0, got \(w)")
        }
        try need(data.sources.values.contains { $0 > 0 }, "data.sources", "needs at least one source with a weight > 0")
        try need((1...65_536).contains(batchSize), "batch_size", "must be in 1...65536, got \(batchSize)")
        try need((1...batchSize).contains(microBatchSize) && batchSize % microBatchSize == 0, "micro_batch_size",
                 "must divide batch_size (\(batchSize)), got \(microBatchSize)")
        // The loss's similarity matrix is micro x micro (Int32 GEMM dimensions and element counts).
        try need(microBatchSize <= Recipe.maxMicroBatch, "micro_batch_size",
                 "must be at most \(Recipe.maxMicroBatch) (its square must fit a 32-bit count), got \(microBatchSize)")
        if let i = model.initial { try checkSizes(i, file: file) }
        try need(steps >= 1 && steps <= 100_000_000, "steps", "must be in 1...100000000, got \(steps)")
        try need(learningRate.isFinite && learningRate > 0 && learningRate < 1, "learning_rate", "must be in (0, 1), got \(learningRate)")
        try need(minLearningRate.isFinite && minLearningRate >= 0 && minLearningRate <= learningRate, "min_learning_rate",
                 "must be in [0, learning_rate], got \(minLearningRate)")
        try need(warmupSteps >= 0 && warmupSteps <= steps, "warmup_steps", "must be in 0...steps (\(steps)), got \(warmupSteps)")
        try need(weightDecay.isFinite && weightDecay >= 0 && weightDecay < 10, "weight_decay", "must be in [0, 10), got \(weightDecay)")
        try need(beta1.isFinite && beta1 >= 0 && beta1 < 1, "beta1", "must be in [0, 1), got \(beta1)")
        if let w = regionLossWeight {
            try need(w.isFinite && w >= 0 && w <= 100, "region_loss_weight", "must be in [0, 100], got \(w)")
        }
        try need(beta2.isFinite && beta2 >= 0 && beta2 < 1, "beta2", "must be in [0, 1), got \(beta2)")
        try need(eps.isFinite && eps > 0 && eps < 1, "eps", "must be in (0, 1), got \(eps)")
        try need(gradClipNorm.isFinite && gradClipNorm >= 0, "grad_clip_norm", "must be >= 0 (0: no clipping), got \(gradClipNorm)")
        try need((1...256).contains(threads), "threads", "must be in 1...256, got \(threads)")
        try need(["soft-label", "hard"].contains(targets), "targets", "must be \"soft-label\" or \"hard\", got \"\(targets)\"")
        let s = augmentation.cropScale, r = augmentation.cropRatio
        try need(s.count == 2 && s[0] > 0 && s[0] <= s[1] && s[1] <= 1, "augmentation.crop_scale",
                 "must be [lo, hi] with 0 < lo <= hi <= 1, got \(s)")
        try need(r.count == 2 && r[0] >= 0.01 && r[0] <= r[1] && r[1] <= 100, "augmentation.crop_ratio",
                 "must be [lo, hi] with 0.01 <= lo <= hi <= 100, got \(r)")
        try need(checkpointEvery >= 1, "checkpoint_every", "must be >= 1, got \(checkpointEvery)")
        try need(logEvery >= 1, "log_every", "must be >= 1, got \(logEvery)")
        for (k, p) in freeze.enumerated() { try need(!p.isEmpty, "freeze[\(k)]", "must be a non-empty tensor-name prefix") }
        try need(["f16", "f32"].contains(exportDType), "export_dtype", "must be \"f16\" or \"f32\", got \"\(exportDType)\"")
    }

    /// The largest micro-batch: micro x micro similarities fit a 32-bit count.
    public static let maxMicroBatch = 46_340
    /// The largest patch grid side (image_size / patch_size): 65,536 patches.
    public static let maxGrid = 256
    /// Memory a recipe may ask for (parameters, gradients, AdamW moments and one micro-batch's
    /// activations): 64 GiB or the machine's physical memory, whichever is smaller.
    public static var memoryCap: Int { min(64 << 30, Int(clamping: ProcessInfo.processInfo.physicalMemory)) }

    /// A new model's sizes: every GEMM dimension and tensor fits 32-bit counts, and the parameter
    /// and activation memory (overflow-checked, roughly) fits `memoryCap`.
    private func checkSizes(_ i: ModelInit, file: String) throws {
        func fail(_ field: String, _ reason: String) -> RecipeError { RecipeError(file: file, field: field, reason: reason) }
        let grid = i.imageSize / i.patchSize
        guard grid <= Recipe.maxGrid else {
            throw fail("model.init.image_size", "(\(i.imageSize)) / patch_size (\(i.patchSize)) must be at most \(Recipe.maxGrid) patches a side, got \(grid)")
        }
        let tokens = grid * grid + 1
        let vocab = 256 + 256 + i.vocabMerges + 2
        // Overflow-checked arithmetic: nil when a product leaves Int.
        func mul(_ xs: Int...) -> Int? {
            var p = 1
            for x in xs { let (r, o) = p.multipliedReportingOverflow(by: x); if o { return nil }; p = r }
            return p
        }
        func add(_ xs: Int?...) -> Int? {
            var s = 0
            for x in xs { guard let x else { return nil }; let (r, o) = s.addingReportingOverflow(x); if o { return nil }; s = r }
            return s
        }
        let int32 = Int(Int32.max)
        let sizeFields = "model.init (image_size, patch_size, width, layers, mlp_width, text_width, text_layers, text_mlp_width, embed_dim) and micro_batch_size"
        // Every activation matrix of a micro-batch: rows x columns must fit Int32.
        let widest: [(String, Int?)] = [
            ("model.init.width", mul(microBatchSize, tokens, max(3 * i.width, i.mlpWidth, i.patchSize * i.patchSize * 3))),
            ("model.init.heads", mul(microBatchSize, i.heads, tokens, tokens)),
            ("model.init.text_width", mul(microBatchSize, i.contextLength, max(3 * i.textWidth, i.textMlpWidth))),
            ("model.init.text_width", mul(vocab, i.textWidth)),
            ("model.init.image_size", mul(microBatchSize, 3, i.imageSize, i.imageSize))]
        for (field, n) in widest {
            guard let n, n <= int32 else {
                throw fail(field, "makes a tensor of more than \(int32) values with micro_batch_size \(microBatchSize); choose smaller sizes (\(sizeFields))")
            }
        }
        func block(_ w: Int, _ mlp: Int) -> Int? { add(mul(4, w, w), mul(2, w, mlp), mul(9, w), mlp) }
        let parameters = add(
            mul(3, i.patchSize, i.patchSize, i.width), mul(tokens + 5, i.width), mul(i.layers, block(i.width, i.mlpWidth) ?? -1),
            mul(i.width, i.embedDim), mul(vocab + i.contextLength + 2, i.textWidth),
            mul(i.textLayers, block(i.textWidth, i.textMlpWidth) ?? -1), mul(i.textWidth, i.embedDim), 1)
        // Per layer and token, forward keeps about 12 x width + 2 x mlp values, plus heads x tokens attention weights.
        let visionActivations = mul(microBatchSize, tokens, i.layers, add(mul(12, i.width), mul(2, i.mlpWidth), mul(i.heads, tokens)) ?? -1)
        let textActivations = mul(microBatchSize, i.contextLength, i.textLayers,
                                  add(mul(12, i.textWidth), mul(2, i.textMlpWidth), mul(i.textHeads, i.contextLength)) ?? -1)
        // Parameters: values, gradients and two AdamW moments (16 bytes); activations forward and
        // backward (8 bytes); the batch's pixels twice (one prepared ahead); the contrastive loss's
        // B x B matrices (logits, both softmaxes and their gradients in Double: 40 bytes per pair)
        // and the soft targets (4 bytes per pair of the whole batch).
        let bytes = add(mul(16, parameters ?? -1), mul(8, visionActivations ?? -1), mul(8, textActivations ?? -1),
                        mul(8, batchSize, 3, i.imageSize, i.imageSize), mul(40, microBatchSize, microBatchSize),
                        mul(4, batchSize, batchSize))
        let cap = Recipe.memoryCap
        guard let parameters, parameters > 0, parameters <= int32, let bytes, bytes > 0, bytes <= cap else {
            let what = parameters.map { "\($0) parameters" } ?? "more parameters than an Int holds"
            let need = bytes.map { "about \($0 >> 20) MiB" } ?? "more bytes than an Int holds"
            throw fail("model.init", "is too large: \(what) (at most \(int32)), \(need) for training (at most \(cap >> 20) MiB); choose smaller sizes (\(sizeFields))")
        }
    }

    // MARK: Identity

    /// The recipe as canonical JSON (sorted keys): what checkpoints and run records store.
    public func canonicalJSON() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)) ?? Data()
    }

    /// Fields whose change does not alter the training trajectory: a checkpoint may be resumed
    /// under a recipe that differs only in these. (`threads` does alter it: the kernels' chunked
    /// sums depend on it; a resumed run must keep it.)
    public static let bookkeepingFields: Set<String> = ["checkpoint_every", "log_every", "export_dtype"]

    /// The recipe's digest (FNV-1a 64 of the canonical JSON without `bookkeepingFields` and
    /// `threads`), as 16 hex digits. `threads` is left out so that digests stay those of
    /// checkpoints written before it was checked; checkpoints store it on its own
    /// (`TrainingCheckpoint.Header.threads`) and a resume under another thread count is refused.
    public var digest: String {
        var copy = self
        copy.checkpointEvery = 1; copy.logEvery = 1; copy.threads = 1; copy.exportDType = "f32"
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in copy.canonicalJSON() { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return String(h, radix: 16).leftPadded(to: 16)
    }

    /// The trajectory fields whose values differ between two recipes (JSON key paths), for
    /// refusing a checkpoint with a message that says which.
    public func differingFields(from other: Recipe) -> [String] {
        func flat(_ r: Recipe) -> [String: String] {
            guard let obj = try? JSONSerialization.jsonObject(with: r.canonicalJSON()) as? [String: Any] else { return [:] }
            var out = [String: String]()
            func walk(_ v: Any, _ path: String) {
                if let d = v as? [String: Any] {
                    for (k, x) in d { walk(x, path.isEmpty ? k : path + "." + k) }
                } else {
                    out[path] = "\(v)"
                }
            }
            walk(obj, "")
            return out
        }
        let a = flat(self), b = flat(other)
        return Set(a.keys).union(b.keys)
            .filter { !Recipe.bookkeepingFields.contains($0) && a[$0] != b[$0] }
            .sorted()
    }

    /// The whole-number fields, named before decoding: Foundation's decoder reports a number that
    /// does not fit its field ("seed": -1, "steps": 2.5 or 1e19) as invalid JSON with no field.
    static func checkWholeNumbers(_ root: [String: Any], file: String) throws {
        var fields: [(String, Any?)] = ["batch_size", "micro_batch_size", "steps", "warmup_steps", "seed", "threads",
                                        "checkpoint_every", "log_every"].map { ($0, root[$0]) }
        if let m = root["model"] as? [String: Any], let i = m["init"] as? [String: Any] {
            for k in ["image_size", "patch_size", "width", "layers", "heads", "mlp_width", "text_width", "text_layers",
                      "text_heads", "text_mlp_width", "context_length", "embed_dim", "vocab_merges"] {
                fields.append(("model.init." + k, i[k]))
            }
        }
        for (name, value) in fields {
            guard let n = value as? NSNumber, !(value is Bool) else { continue }   // other kinds: the decoder names them
            let d = n.doubleValue
            let lowest: Double = name == "seed" ? 0 : -9.2e18
            guard d.isFinite, d.rounded() == d, d >= lowest, d < 9.2e18 else {
                throw RecipeError(file: file, field: name, reason: "must be a whole number\(name == "seed" ? " from 0 to 2^64-1" : " within range"), got \(n)")
            }
        }
    }

    /// Resolves a path from the recipe (`data.folder`, `model.from`) against the recipe file's folder.
    public static func resolve(_ path: String, relativeTo recipeFile: URL?) -> URL {
        if path.hasPrefix("/") || recipeFile == nil { return URL(fileURLWithPath: path) }
        return recipeFile!.deletingLastPathComponent().appendingPathComponent(path)
    }
}

/// A recipe that cannot be used: names the file and the field, says what is wrong.
public struct RecipeError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    /// JSON key path ("model.init.width", "augmentation.crop_scale"); nil for the whole file.
    public var field: String?
    public var reason: String

    public init(file: String, field: String?, reason: String) {
        self.file = file; self.field = field; self.reason = reason
    }

    init(decoding error: DecodingError, file: String) {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let ctx):
            let p = path(ctx.codingPath + [key])
            self.init(file: file, field: p, reason: "is missing (every recipe field is required except freeze; see recipes/default.json)")
        case .typeMismatch(let type, let ctx):
            self.init(file: file, field: path(ctx.codingPath), reason: "must be \(Self.describe(type))")
        case .valueNotFound(let type, let ctx):
            self.init(file: file, field: path(ctx.codingPath), reason: "is null; it must be \(Self.describe(type))")
        case .dataCorrupted(let ctx):
            self.init(file: file, field: path(ctx.codingPath), reason: "has a value out of range or of the wrong kind (\(ctx.debugDescription))")
        @unknown default:
            self.init(file: file, field: nil, reason: "\(error)")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is UInt64.Type: return "an integer"
        case is Double.Type: return "a number"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        default: return "\(type)".contains("Array") ? "a JSON array" : "a JSON object"
        }
    }

    public var description: String {
        if let field { return "recipe \(file): field \(field) \(reason)" }
        return "recipe \(file) \(reason)"
    }
}

extension String {
    func leftPadded(to n: Int, with c: Character = "0") -> String {
        count >= n ? self : String(repeating: c, count: n - count) + self
    }
}
