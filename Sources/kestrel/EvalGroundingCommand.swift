import ArgumentParser
import Foundation
import KestrelEngine
import KestrelEvaluation
import KestrelFiles
import KestrelGrounding
import KestrelImage
import KestrelTraining

/// `kestrel eval grounding`: pointing game and IoU >= 0.5 accuracy over rendered scenes, beside baselines.
struct EvalGroundingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grounding",
        abstract: "Grounding: pointing game and IoU >= 0.5 accuracy over scenes with exact boxes, against centre and random baselines.",
        discussion: """
            --data is a grounding.jsonl file (kestrel data grounding; docs/data.md). Without it, the \
            default held-out set (500 scenes, seed 0, the same as `kestrel data grounding` with its \
            defaults) is rendered into a temporary folder, removed afterwards; the report says so. \
            Each scene's query is grounded with heat maps on: the pointing game takes the heat map's \
            peak (the centre of its highest cell) and counts a hit inside the target's box; IoU >= \
            0.5 accuracy takes the best-scoring box (no box is a miss). Both with bootstrap 95% \
            intervals over scenes, the mean IoU, the same figures for the centre and random \
            baselines, paired differences, and per subset (distractor type, held-out shape-colour \
            pair). A scene that cannot be used gets an `error:` line and the exit status is 1. \
            Metrics and baselines: docs/eval.md.
            """)

    @Option(name: .long, help: "Model folder: OWL-ViT/OWLv2 or any CLIP. Default: the model shipped with Kestrel (or $KESTREL_MODEL).")
    var model: String?
    @Option(name: .long, help: "A grounding.jsonl file (default: the held-out set, rendered into a temporary folder).")
    var data: String?
    @OptionGroup var output: EvalOutputOptions
    @Option(name: .long, parsing: .unconditional, help: "Score threshold passed to the grounder, -1 to 1 (default: its own; see docs/grounding.md).")
    var threshold: Float?
    @Option(name: .long, parsing: .unconditional, help: "Use only the first N scenes, at least 1.")
    var limit: Int?
    @Option(name: .long, parsing: .unconditional, help: "Refuse images with more pixels than this, at least 1 (decompression-bomb guard).")
    var pixelLimit: Int?
    @OptionGroup var precisionOptions: PrecisionOptions

    func validate() throws {
        if model == "" { throw ValidationError("--model needs a folder name; '' names none") }
        if data == "" { throw ValidationError("--data needs a grounding.jsonl file; '' names none") }
        if let threshold, !GroundingOptions.thresholdRange.contains(threshold) { throw ValidationError("--threshold is a score from -1 to 1, got \(threshold)") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        if let pixelLimit, pixelLimit < 1 { throw ValidationError("--pixel-limit must be at least 1, got \(pixelLimit)") }
    }

    func run() throws {
        try reportingErrors {
            let folder = try modelFolder(model)
            var generated: String? = nil
            let file: FilePathBytes
            var temporary: InterruptCleanup.Token? = nil
            defer { if let temporary { InterruptCleanup.release(temporary, removing: true) } }
            if let data {
                file = RawArguments.path(data)
            } else {
                let count = min(limit ?? GroundingScenes.defaultCount, GroundingScenes.defaultCount)
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kestrel-grounding-\(getpid())-\(UUID().uuidString)")
                temporary = InterruptCleanup.register(dir)   // removed on Ctrl-C too
                try GroundingScenes.write(to: dir, count: count, split: .heldout, seed: GroundingScenes.defaultSeed)
                file = FilePathBytes(dir.appendingPathComponent("grounding.jsonl").path)
                generated = "\(count) held-out scenes (seed \(GroundingScenes.defaultSeed), \(GroundingScenes.defaultCount) by default), rendered into a temporary folder and removed afterwards"
            }
            let bytes = try FileSystem.readFile(file, limit: GroundingData.byteLimit)
            var cases = try GroundingData.parse(bytes, name: file.description, folder: file.standardized().parent)
            if let limit { cases = Array(cases.prefix(limit)) }
            let grounder = try GrounderLoader.load(folder, precision: precisionOptions.value)
            if let dense = grounder as? DenseCLIPGrounder { warnAboutPrecision(dense.embedder.model) }
            let run = try GroundingEvaluation.run(grounder: grounder, cases: cases, threshold: threshold, settings: output.settings,
                                                  decoder: ImageDecoder(pixelLimit: pixelLimit ?? ImageDecoder.defaultPixelLimit),
                                                  progress: evalProgress("grounded scenes"), failure: evalFailure)
            let context = EvalContext(modelPath: folder.path, fingerprint: try fingerprint(grounder, folder: folder),
                                      precision: precisionOptions.value.rawValue, dataKind: generated == nil ? "grounding" : "grounding-generated",
                                      dataPath: generated == nil ? file.lossyString : "(temporary)",
                                      listSHA256: "sha256:" + SHA256.hex(SHA256.hash(bytes)),
                                      arguments: Array(CommandLine.arguments.dropFirst()), codeVersion: SourceVersion.describe())
            output.emit(json: EvalReport.json(run, context: context, generated: generated),
                        table: EvalReport.table(run, context: context, generated: generated))
            if !run.failed.isEmpty { throw ExitCode(1) }
        }
    }

    /// The model's fingerprint: for a CLIP folder the one every other command records
    /// (`ModelFingerprint`); otherwise SHA-256 over the digests of config.json,
    /// preprocessor_config.json and the weights files that exist.
    func fingerprint(_ grounder: any Grounder, folder: URL) throws -> String {
        if let dense = grounder as? DenseCLIPGrounder { return try ModelFingerprint.fingerprint(of: dense.embedder.model) }
        var parts: [String] = []
        for name in ["config.json", "preprocessor_config.json", "model.safetensors"] {
            let url = folder.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: url.path) { parts.append(try SHA256.hexDigest(ofFileAt: url)) }
        }
        return "sha256:" + SHA256.hex(SHA256.hash(Array(parts.joined(separator: "\n").utf8)))
    }
}
