import Foundation
import KestrelKernels
import KestrelTokenizer

/// What the training loop needs from the model side: the model, the input sizes and
/// normalisation its data must have, its tokenizer, and how to export it when done.
public struct TrainingSetup {
    public var model: TrainableModel
    public var imageSize: Int
    public var contextLength: Int
    public var tokenizer: CLIPTokenizer
    public var mean: [Float]
    public var std: [Float]
    /// Writes the trained model as a folder at the URL with the dtype ("f16"/"f32"); nil: no export.
    public var export: ((URL, String) throws -> Void)?

    public init(model: TrainableModel, imageSize: Int, contextLength: Int, tokenizer: CLIPTokenizer,
                mean: [Float], std: [Float], export: ((URL, String) throws -> Void)? = nil) {
        self.model = model; self.imageSize = imageSize; self.contextLength = contextLength
        self.tokenizer = tokenizer; self.mean = mean; self.std = std; self.export = export
    }
}

/// The training loop: batches from a `DataLoader` (prepared one ahead on a background thread),
/// gradient accumulation over micro-batches, global-norm clipping, AdamW under the warm-up +
/// cosine `Schedule`, `train.jsonl`, checkpoints every `checkpoint_every` steps that resume
/// exactly, the run record and the export at the end.
///
/// Accumulation: a step of `batch_size` samples runs `batch_size / micro_batch_size` forward +
/// backward passes; their gradients are summed and divided by the number of micro-batches, and
/// the logged loss is their mean: the gradient of the mean loss. Each micro-batch's InfoNCE
/// sees only its own samples as negatives (and, with soft labels, as positives), so a step with
/// accumulation is not the same as one large batch: it has fewer negatives per sample.
///
/// Determinism: with the same recipe, seed and thread count on the same machine, every loss is
/// the same bit for bit, and a run resumed from a checkpoint continues exactly as if it had not
/// stopped (the batches are a pure function of the loader state saved with the weights).
public final class Trainer {
    public struct Options {
        /// The run folder: checkpoints/, train.jsonl, run.json, model/.
        public var out: URL
        public var resume = false
        /// Progress on stderr.
        public var progress = true
        /// The recipe file's path, to name it in errors about the recipe (freeze prefixes).
        public var recipeFile = "(recipe)"
        /// Checkout for `git describe` (nil: Kestrel's own source, `SourceVersion.sourceRoot`).
        public var sourceDirectory: URL?
        public init(out: URL) { self.out = out }
    }

    public struct Summary: Sendable {
        public var steps: Int
        public var finalLoss: Float?
        public var samplesPerSecond: Double
        public var resumedFromStep: Int?
    }

    public let recipe: Recipe
    public let setup: TrainingSetup
    public let loader: DataLoader
    public let options: Options
    public let optimizer: AdamW
    public private(set) var step = 0
    public private(set) var loaderState: DataLoader.State
    /// The run's generator: saved in checkpoints (drawn from by models that need randomness).
    public var rng: TrainingRNG
    private var samplesSeen = 0
    /// Training seconds before this process (from the checkpoint), and up to the last step.
    private var priorElapsed = 0.0
    private var currentElapsed = 0.0

    public init(recipe: Recipe, setup: TrainingSetup, loader: DataLoader, options: Options) throws {
        self.recipe = recipe
        self.setup = setup
        self.loader = loader
        self.options = options
        let parameters = setup.model.parameters
        for (k, prefix) in recipe.freeze.enumerated() {
            // A bare prefix such as "text.block1" would also freeze text.block10...text.block19.
            guard prefix.hasSuffix(".") || parameters.views.contains(where: { $0.name == prefix }) else {
                throw RecipeError(file: options.recipeFile, field: "freeze[\(k)]",
                                  reason: "\"\(prefix)\" must end with \".\" (a group of tensors, such as \"\(prefix).\") or be a whole tensor name; a bare prefix would also freeze every tensor whose name merely starts with it")
            }
            guard parameters.views.contains(where: { $0.name.hasPrefix(prefix) }) else {
                throw RecipeError(file: options.recipeFile, field: "freeze[\(k)]", reason: "prefix \"\(prefix)\" matches no tensor of the model")
            }
            parameters.setTrainable(false, prefix: prefix)
        }
        optimizer = AdamW(parameters: parameters, settings: .init(
            beta1: Float(recipe.beta1), beta2: Float(recipe.beta2), eps: Float(recipe.eps), weightDecay: Float(recipe.weightDecay)))
        loaderState = loader.initialState()
        rng = TrainingRNG(seed: recipe.seed ^ 0x7472_6169_6E65_7221)
    }

    var checkpointFolder: URL { options.out.appendingPathComponent("checkpoints") }

    // MARK: Checkpoints

    /// The checkpoint of the current state.
    public func checkpoint() -> TrainingCheckpoint {
        let p = setup.model.parameters
        let header = TrainingCheckpoint.Header(
            step: step, recipeDigest: recipe.digest, recipe: String(decoding: recipe.canonicalJSON(), as: UTF8.self),
            tensors: p.views.map { .init(name: $0.name, shape: $0.shape, trainable: $0.trainable) },
            adamStep: optimizer.step, rng: rng, loader: loaderState, samplesSeen: samplesSeen,
            elapsedSeconds: currentElapsed, trainEntries: loader.trainCount,
            threads: recipe.threads, manifestSHA256: loader.manifestSHA256)
        return TrainingCheckpoint(header: header, values: p.values, m: optimizer.m, v: optimizer.v)
    }

    /// Restores a checkpoint after checking it belongs to this recipe and model.
    public func restore(_ c: TrainingCheckpoint, path: String) throws {
        if c.header.recipeDigest != recipe.digest {
            let theirs = (try? Recipe.decode(Data(c.header.recipe.utf8), file: path))
            let fields = theirs.map { recipe.differingFields(from: $0) } ?? ["(unreadable recipe in checkpoint)"]
            throw CheckpointError.otherRecipe(path: path, fields: fields.isEmpty ? ["(digest only)"] : fields)
        }
        // The thread count changes the numerics (chunked partial sums); checkpoints written before
        // it was stored carry none.
        if let theirs = c.header.threads, theirs != recipe.threads {
            throw CheckpointError.otherRecipe(path: path, fields: ["threads (\(theirs) then, \(recipe.threads) now)"])
        }
        if let theirs = c.header.trainEntries, theirs != loader.trainCount {
            let changed = Set(theirs.keys).union(loader.trainCount.keys).sorted()
                .filter { theirs[$0] != loader.trainCount[$0] }
                .map { "\($0): \(theirs[$0] ?? 0) training entries then, \(loader.trainCount[$0] ?? 0) now" }
            throw CheckpointError.otherData(path: path, reason: changed.joined(separator: "; "))
        }
        if let theirs = c.header.manifestSHA256, theirs != loader.manifestSHA256 {
            throw CheckpointError.otherData(
                path: path, reason: "the data folder's manifest changed since the checkpoint: SHA-256 \(theirs) then, \(loader.manifestSHA256) now")
        }
        let p = setup.model.parameters
        let mine = p.views.map { TrainingCheckpoint.Header.Tensor(name: $0.name, shape: $0.shape, trainable: $0.trainable) }
        guard mine.map(\.name) == c.header.tensors.map(\.name), mine.map(\.shape) == c.header.tensors.map(\.shape) else {
            let diff = zip(mine, c.header.tensors).first { $0.name != $1.name || $0.shape != $1.shape }
            throw CheckpointError.otherModel(path: path, reason: diff.map { "tensor \($0.1.name) \($0.1.shape) where the model has \($0.0.name) \($0.0.shape)" }
                                             ?? "\(c.header.tensors.count) tensors, the model has \(mine.count)")
        }
        try Trainer.checkState(c, path: path, recipe: recipe, loader: loader)
        p.values = c.values
        optimizer.m = c.m
        optimizer.v = c.v
        optimizer.step = c.header.adamStep
        rng = c.header.rng
        loaderState = c.header.loader
        step = c.header.step
        samplesSeen = c.header.samplesSeen
        priorElapsed = c.header.elapsedSeconds
        currentElapsed = priorElapsed
    }

    /// Checks the counters and positions of a checkpoint that passed its checksum, so a crafted
    /// file is refused rather than crashing the run.
    static func checkState(_ c: TrainingCheckpoint, path: String, recipe: Recipe, loader: DataLoader) throws {
        let h = c.header
        func need(_ ok: Bool, _ reason: @autoclosure () -> String) throws {
            if !ok { throw CheckpointError.damaged(path: path, reason: reason()) }
        }
        try need(h.step >= 0 && h.step <= recipe.steps, "step \(h.step) is not in 0...\(recipe.steps) (the recipe's steps)")
        try need(h.adamStep >= 0 && h.adamStep <= h.step, "adamStep \(h.adamStep) is not in 0...\(h.step) (the step)")
        try need(h.samplesSeen >= 0, "samplesSeen \(h.samplesSeen) is negative")
        try need(h.elapsedSeconds.isFinite && h.elapsedSeconds >= 0, "elapsedSeconds \(h.elapsedSeconds) is not a finite number >= 0")
        try need(h.loader.samples >= 0, "loader.samples \(h.loader.samples) is negative")
        try need(h.loader.sources.map(\.name) == loader.sourceNames,
                 "the loader walks sources \(h.loader.sources.map(\.name)) but the recipe's are \(loader.sourceNames)")
        let sizes = loader.trainCount
        for s in h.loader.sources {
            let n = sizes[s.name] ?? 0
            try need(s.epoch >= 0, "loader source \(s.name): epoch \(s.epoch) is negative")
            try need(s.position >= 0 && s.position < n, "loader source \(s.name): position \(s.position) is not in 0..<\(n) (its training entries)")
        }
    }

    /// Loads the newest checkpoint in the run folder.
    public func resumeFromNewest() throws {
        guard let newest = TrainingCheckpoint.list(in: checkpointFolder).last else {
            throw CheckpointError.noCheckpoint(folder: checkpointFolder.path)
        }
        try restore(try TrainingCheckpoint.read(newest.url), path: newest.url.path)
    }

    private func saveCheckpoint() throws {
        try FileManager.default.createDirectory(at: checkpointFolder, withIntermediateDirectories: true)
        try checkpoint().write(to: checkpointFolder.appendingPathComponent(TrainingCheckpoint.fileName(step: step)))
        // Keep the two newest.
        for old in TrainingCheckpoint.list(in: checkpointFolder).dropLast(2) { try? FileManager.default.removeItem(at: old.url) }
    }

    // MARK: The loop

    /// Trains to `recipe.steps` (from the newest checkpoint with `options.resume`), then writes
    /// run.json and exports the model.
    @discardableResult
    public func run() throws -> Summary {
        try run(until: nil)!
    }

    /// Trains until step `n` (checkpointing as the recipe says), then stops without exporting or
    /// writing the run record: an interruption, for tests.
    public func trainSteps(_ n: Int) throws {
        _ = try run(until: n)
    }

    private func run(until stop: Int?) throws -> Summary? {
        let started = Date()
        // The code version is taken when the run starts: the checkout may move on while it trains
        // (a run record once named the commit checked out at its end, not the one that trained).
        let codeVersion = RunRecord.gitDescribe(in: options.sourceDirectory ?? SourceVersion.sourceRoot)
        let fm = FileManager.default
        if !options.resume, fm.fileExists(atPath: options.out.path) {
            // A new run never writes over an old one (its train.jsonl, run.json, model/).
            let names: [String]
            do { names = try fm.contentsOfDirectory(atPath: options.out.path) } catch {
                throw TrainingError.outputNotEmpty(path: options.out.path, reason: "exists and is not a readable folder")
            }
            if !names.isEmpty {
                throw TrainingError.outputNotEmpty(path: options.out.path, reason: "already holds \(names.sorted().prefix(3).joined(separator: ", "))\(names.count > 3 ? ", ..." : "")")
            }
        }
        try fm.createDirectory(at: options.out, withIntermediateDirectories: true)
        var resumedFrom: Int? = nil
        if options.resume {
            try resumeFromNewest()
            resumedFrom = step
            // A finished run (every step taken, model exported, record written) is left as it is:
            // resuming it would only overwrite its run record with empty figures.
            let out = options.out
            if stop == nil, step >= recipe.steps,
               fm.fileExists(atPath: out.appendingPathComponent("model/config.json").path),
               fm.fileExists(atPath: out.appendingPathComponent("run.json").path) {
                throw TrainingError.alreadyFinished(path: out.path, steps: step)
            }
        }
        Kernels.threads = recipe.threads
        let log = try TrainingLog(url: options.out.appendingPathComponent("train.jsonl"), keepThrough: step)
        let schedule = Schedule(recipe)
        let parameters = setup.model.parameters
        let micro = recipe.microBatchSize, k = recipe.accumulationSteps
        let prefetcher = BatchPrefetcher(loader: loader, batchSize: recipe.batchSize, from: loaderState)
        defer { prefetcher.finish() }
        let clock = ContinuousClock(), t0 = clock.now
        var lastLoss: Float? = nil
        var windowStart = clock.now, windowSamples = 0
        let stepsAtStart = step
        while step < min(recipe.steps, stop ?? recipe.steps) {
            let (batch, after) = try prefetcher.next()
            parameters.zeroGradients()
            var loss: Float = 0
            for part in 0..<k {
                let slice = Trainer.slice(batch, from: part * micro, count: micro, imageSize: setup.imageSize)
                loss += setup.model.lossAndGradients(slice)
            }
            loss /= Float(k)
            if !loss.isFinite { throw TrainingError.nonFiniteLoss(step: step + 1, loss: loss) }
            if k > 1 {
                let f = 1 / Float(k)
                parameters.gradients.withUnsafeMutableBufferPointer { g in for i in g.indices { g[i] *= f } }
            }
            let gradNorm = optimizer.clipGradients(maxNorm: Float(recipe.gradClipNorm))
            if !gradNorm.isFinite { throw TrainingError.nonFiniteGradient(step: step + 1) }
            let lr = schedule.learningRate(step: step)
            optimizer.update(learningRate: lr)
            step += 1
            loaderState = after
            samplesSeen += recipe.batchSize
            windowSamples += recipe.batchSize
            lastLoss = loss
            let elapsed = priorElapsed + seconds(clock.now - t0)
            if step % recipe.logEvery == 0 || step == recipe.steps {
                let rate = Double(windowSamples) / max(1e-9, seconds(clock.now - windowStart))
                windowStart = clock.now; windowSamples = 0
                let scale = parameters.contains("logit_scale") ? exp(parameters.values[parameters.view("logit_scale").offset]) : nil
                let regionLoss = (setup.model as? CLIPGraph)?.lastRegionLoss
                log.append(TrainingLogLine(step: step, loss: loss, learningRate: lr, logitScale: scale, gradNorm: gradNorm,
                                           samplesPerSecond: rate, elapsedSeconds: elapsed, regionLoss: regionLoss))
                if options.progress {
                    let eta = Double(recipe.steps - step) * Double(recipe.batchSize) / max(rate, 1e-9)
                    let line = "step \(step)/\(recipe.steps)  loss \(String(format: "%.4f", loss))  "
                        + (regionLoss.map { "region \(String(format: "%.4f", $0))  " } ?? "") + "lr \(String(format: "%.2e", lr))  "
                        + "\(String(format: "%.1f", rate)) samples/s  eta \(Int(eta))s"
                    FileHandle.standardError.write(Data((line + "\n").utf8))
                }
            }
            if step % recipe.checkpointEvery == 0 || step == recipe.steps {
                currentElapsed = elapsed
                try saveCheckpoint()
            }
        }
        if stop != nil && step < recipe.steps { return nil }
        let trainSeconds = seconds(clock.now - t0)
        let rate = Double((step - stepsAtStart) * recipe.batchSize) / max(trainSeconds, 1e-9)
        // EXPORT: the model folder (config.json, model.safetensors, vocab.json, merges.txt,
        // preprocessor_config.json) through the graph work's ModelExport.saveHuggingFace, wired by
        // the caller in `setup.export`.
        let modelFolder = options.out.appendingPathComponent("model")
        if let export = setup.export { try export(modelFolder, recipe.exportDType) }
        let record = RunRecord(
            recipe: recipe, recipeDigest: recipe.digest, seed: recipe.seed, dataFolder: loader.folder.path,
            manifestSHA256: loader.manifestSHA256, trainEntries: loader.trainCount,
            gitDescribe: codeVersion,
            machine: .current(), threads: recipe.threads, steps: step, samplesSeen: samplesSeen, samplesPerSecond: rate,
            peakRSSBytes: RunRecord.peakRSS(), wallSeconds: Date().timeIntervalSince(started), resumedFromStep: resumedFrom,
            finalLoss: lastLoss, started: RunRecord.timestamp(started), finished: RunRecord.timestamp())
        try record.write(to: options.out.appendingPathComponent("run.json"))
        if fm.fileExists(atPath: modelFolder.path) { try record.write(to: modelFolder.appendingPathComponent("run.json")) }
        return Summary(steps: step, finalLoss: lastLoss, samplesPerSecond: rate, resumedFromStep: resumedFrom)
    }

    /// Samples `from..<from+count` of a batch (groups keep their ids: equal ids stay positives).
    public static func slice(_ b: TrainingBatch, from: Int, count: Int, imageSize: Int) -> TrainingBatch {
        if from == 0 && count == b.count { return b }
        let plane = 3 * imageSize * imageSize
        return TrainingBatch(pixels: Array(b.pixels[(from * plane)..<((from + count) * plane)]),
                             tokens: Array(b.tokens[from..<(from + count)]),
                             groups: b.groups.map { Array($0[from..<(from + count)]) },
                             regionPhrases: b.regionPhrases,
                             regions: b.regions.filter { (from..<(from + count)).contains($0.image) }
                                 .map { RegionBox(image: $0.image - from, phrase: $0.phrase, box: $0.box) })
    }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}

public enum TrainingError: Error, CustomStringConvertible, Sendable {
    case nonFiniteLoss(step: Int, loss: Float)
    case nonFiniteGradient(step: Int)
    case modelUnavailable(String)
    /// A new run (no --resume) whose --out folder exists and is not empty.
    case outputNotEmpty(path: String, reason: String)
    /// `--resume` of a run that already took every step and exported its model.
    case alreadyFinished(path: String, steps: Int)

    public var description: String {
        switch self {
        case .nonFiniteLoss(let step, let loss):
            return "the loss became \(loss) at step \(step): lower learning_rate or grad_clip_norm in the recipe, and resume from the last checkpoint with --resume"
        case .nonFiniteGradient(let step):
            return "the gradients became NaN or infinite at step \(step) (the weights were not updated): lower learning_rate in the recipe, and resume from the last checkpoint with --resume"
        case .modelUnavailable(let reason):
            return reason
        case .alreadyFinished(let path, let steps):
            return "--out \(path) holds a finished run (\(steps) steps, model/ and run.json written); nothing to resume (nothing was changed): train further with a recipe that starts from its model (\"from\": \"\(path)/model\")"
        case .outputNotEmpty(let path, let reason):
            return "--out \(path) \(reason): pass --resume to continue the run in it, or choose another --out folder (nothing was changed)"
        }
    }
}
