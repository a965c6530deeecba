import ArgumentParser
import Foundation
import KestrelEngine
import KestrelEvaluation
import KestrelTraining

/// `kestrel eval`: the evaluation harness every figure of the model card comes from.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure a model: zero-shot classification or image-text retrieval, with bootstrap intervals.",
        discussion: "Metrics, definitions and the interval method: docs/eval.md.",
        subcommands: [EvalZeroShotCommand.self, EvalRetrievalCommand.self, EvalCurveCommand.self, EvalGroundingCommand.self])
}

/// Options both evaluations share: output and the bootstrap.
struct EvalOutputOptions: ParsableArguments {
    @Flag(name: .long, help: "One JSON document (\"format\": \"kestrel-eval\") instead of the table.") var json = false
    @Option(name: .long, parsing: .unconditional, help: "Bootstrap resamples, at least 1.") var resamples = 1000
    @Option(name: .long, parsing: .unconditional, help: "Seed of the bootstrap's resampling (same seed, same intervals).") var seed: UInt64 = 0

    func validate() throws {
        guard (1...100_000).contains(resamples) else { throw ValidationError("--resamples must be from 1 to 100000, got \(resamples)") }
    }

    var settings: BootstrapSettings { BootstrapSettings(resamples: resamples, seed: seed) }

    /// Prints the report (JSON or table) on stdout.
    func emit(json document: EvalJSON, table: String) { print(json ? document.text : table) }
}

/// Progress of the image embedding on stderr, only on a terminal.
func evalProgress(_ what: String) -> ((Int, Int) -> Void)? {
    guard Console.stderrIsTerminal else { return nil }
    return { done, total in Console.writeStderr("\r\(what) \(done)/\(total)" + (done == total ? "\n" : "")) }
}

/// An `error:` line for an input that failed (clearing a progress line first on a terminal).
func evalFailure(_ f: FailedInput) {
    if Console.stderrIsTerminal { Console.writeStderr("\r\u{1B}[K") }
    Console.error(f.message)
}

/// The reproducibility fields of a report.
/// `listSHA256`: of the CSV file's bytes, or for a folder of its `relative/path<TAB>label` lines
/// (so the same data gives the same digest wherever it lies).
func evalContext(_ embedder: Embedder, kind: String, data: FilePathBytes, list: [(FilePathBytes, String)]) throws -> EvalContext {
    let digest: String
    if kind == "folder" {
        let root = data.standardized()
        let prefix = root.bytes.last == 0x2F ? root.bytes : root.bytes + [0x2F]
        digest = EvalContext.listDigest(list.map { path, label in
            (path.bytes.starts(with: prefix) ? FilePathBytes(Array(path.bytes.dropFirst(prefix.count))) : path, label)
        })
    } else {
        digest = "sha256:" + SHA256.hex(SHA256.hash(try FileSystem.readFile(data, limit: EvalInputs.csvByteLimit)))
    }
    return EvalContext(modelPath: embedder.model.directory.path, fingerprint: try ModelFingerprint.fingerprint(of: embedder.model),
                       precision: embedder.model.precision.rawValue, dataKind: kind, dataPath: data.lossyString,
                       listSHA256: digest, arguments: Array(CommandLine.arguments.dropFirst()),
                       codeVersion: SourceVersion.describe())
}

struct EvalZeroShotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zero-shot",
        abstract: "Zero-shot classification over a folder per class or a CSV of path,label.",
        discussion: """
            FOLDER holds one subfolder per class (the class name is the subfolder's name). A CSV has \
            the header path,label (RFC 4180 quoting); relative paths are taken from the CSV's folder. \
            Candidate labels: the classes found, sorted, or --labels / --labels-file (which must \
            include every true label). Prompts: the default ensemble of 8, or --template (repeatable). \
            Reports top-1, top-k (k = min(5, classes)), mean and per-class recall, the confusion \
            matrix and the expected calibration error (15 bins), each with a bootstrap 95% interval, \
            beside the chance and majority baselines. An image that cannot be used gets an `error:` \
            line, is left out of the metrics, and the exit status is 1.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: EvalOutputOptions
    @Option(name: .long, help: "A CSV file with the header path,label.") var csv: String?
    @Option(name: .long, help: "Comma-separated candidate class names.") var labels: String?
    @Option(name: .long, help: "A file with one candidate class name per line.") var labelsFile: String?
    @Option(name: .long, help: "A prompt template with {} for the class name (repeatable).") var template: [String] = []
    @Option(name: .long, help: "Write confusion.png and reliability.png into this folder.") var plots: String?
    @Argument(help: "A folder with one subfolder per class.") var folder: String?

    func validate() throws {
        if (csv == nil) == (folder == nil) { throw ValidationError("give a FOLDER with one subfolder per class, or --csv FILE (one of them)") }
        if labels != nil && labelsFile != nil { throw ValidationError("give --labels or --labels-file, not both") }
        for t in template where t.components(separatedBy: "{}").count != 2 {
            throw ValidationError("--template \"\(t)\" must contain exactly one {}")
        }
    }

    /// The candidate labels given, or nil.
    func candidates() throws -> [String]? {
        let raw: [String]
        if let labels { raw = labels.components(separatedBy: ",") } else if let labelsFile {
            let file = RawArguments.path(labelsFile)
            let bytes: [UInt8]
            do { bytes = try FileSystem.readFile(file, limit: 64 << 20) } catch { throw ValidationError("--labels-file \(error)") }
            guard let text = String(validating: bytes, as: UTF8.self) else { throw ValidationError("--labels-file \(file): not UTF-8 text") }
            raw = text.components(separatedBy: .newlines)
        } else { return nil }
        let option = labels != nil ? "--labels" : "--labels-file"
        let names = raw.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw ValidationError("\(option): no class names found") }
        var seen = Set<String>()
        for n in names where !seen.insert(n).inserted { throw ValidationError("\(option): each class name must be given once; \"\(n)\" is repeated") }
        return names
    }

    func run() throws {
        try reportingErrors {
            var failed = false
            let images: [LabeledImage], kind: String, source: FilePathBytes
            if let csv {
                source = RawArguments.path(csv); kind = "csv"
                images = try EvalInputs.labeledImages(csv: source)
            } else {
                source = RawArguments.path(folder!); kind = "folder"
                let set = try EvalInputs.classFolders(source)
                for s in set.skipped { Console.warning("skipped \(s.path): \(s.reason)") }
                for f in set.failed { Console.error("\(f.path): \(f.reason)") }
                failed = !set.failed.isEmpty
                images = set.images
            }
            guard !images.isEmpty else { throw CommandFailure(message: "\(source): no images found") }
            let labelList: [String]
            do {
                labelList = try ZeroShotEvaluation.candidateLabels(trueLabels: images.map(\.label), candidates: try candidates(),
                                                                   truthSource: kind == "csv" ? "\(source)" : "the class folders of \(source)",
                                                                   candidateSource: labels != nil ? "--labels" : "--labels-file")
            } catch let e as EvaluationError { throw ValidationError(e.description) }
            let embedder = try modelOptions.embedder()
            let run: ZeroShotRun
            do {
                run = try ZeroShotEvaluation.run(embedder: embedder, images: images, labels: labelList,
                                                 templates: template.isEmpty ? PromptTemplates.defaultEnsemble : template,
                                                 settings: output.settings, progress: evalProgress("embedded images"),
                                                 failure: evalFailure)
            } catch EngineError.badArgument("labels", let reason) {
                throw ValidationError("\(labels != nil ? "--labels" : labelsFile != nil ? "--labels-file" : "class names"): \(reason)")
            }
            failed = failed || !run.failed.isEmpty
            let context = try evalContext(embedder, kind: kind, data: source, list: images.map { ($0.path, $0.label) })
            output.emit(json: EvalReport.json(run, context: context), table: EvalReport.table(run, context: context))
            if let plots { try writePlots(run, to: RawArguments.path(plots)) }
            if failed { throw ExitCode(1) }
        }
    }

    func writePlots(_ run: ZeroShotRun, to folder: FilePathBytes) throws {
        try FileSystem.makeDirectories(folder)
        let confusion = folder.appending(Array("confusion.png".utf8)), reliability = folder.appending(Array("reliability.png".utf8))
        try FileSystem.writeFileAtomically(Plots.confusionMatrix(counts: run.metrics.confusion, labels: run.labels).png(name: confusion.description), to: confusion)
        try FileSystem.writeFileAtomically(Plots.reliabilityDiagram(bins: run.metrics.bins, ece: run.metrics.ece.value).png(name: reliability.description), to: reliability)
        Console.say("wrote \(confusion) and \(reliability)")
    }
}

struct EvalRetrievalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrieval",
        abstract: "Image-text retrieval recall@1/5/10 over a CSV of path,caption.",
        discussion: """
            The CSV has the header path,caption (RFC 4180 quoting; relative paths from the CSV's \
            folder); a path may repeat with several captions. Text -> image: each caption ranks \
            the distinct images (one relevant). Image -> text: each image ranks every caption (its \
            own captions relevant). Recall@k with bootstrap 95% intervals over queries, beside the \
            chance of a random ranking (k/N with one relevant item). An image that cannot be used \
            gets an `error:` line, its captions are left out, and the exit status is 1.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: EvalOutputOptions
    @Option(name: .long, help: "A CSV file with the header path,caption.") var captions: String

    func run() throws {
        try reportingErrors {
            let source = RawArguments.path(captions)
            let pairs = try EvalInputs.captionedImages(csv: source)
            let embedder = try modelOptions.embedder()
            let run = try RetrievalEvaluation.run(embedder: embedder, pairs: pairs, settings: output.settings,
                                                  progress: evalProgress("embedded images"), failure: evalFailure)
            let context = try evalContext(embedder, kind: "captions", data: source, list: pairs.map { ($0.path, $0.caption) })
            output.emit(json: EvalReport.json(run, context: context), table: EvalReport.table(run, context: context))
            if !run.failed.isEmpty { throw ExitCode(1) }
        }
    }
}
