import ArgumentParser
import Foundation
import KestrelEngine

/// Where index folders go when --index is not given: Indexes/default (relative to the current folder).
let defaultIndexHelp = "Index folder (default: Indexes/default)."

/// Checks `--index-type` before any work: an alias or a supported factory string with every
/// number in range; with the vectors' dimension also whether PQ / OPQ sizes divide it and
/// whether FAISS makes the index (an empty one, dropped at once). Every refusal is a usage
/// error (exit 64).
func validateIndexType(_ spec: String?, dimension: Int? = nil) throws {
    guard let spec else { return }
    do {
        try IndexPlanner.validate(factory: spec, dimension: dimension)
        if let dimension { try VectorIndex.checkFactory(spec, dimension: dimension) }
    } catch IndexError.unknownFactory(_, let reason) {
        throw ValidationError("--index-type \(spec): \(reason)")
    }
}

/// `--index ''` would be the current folder: refused (an empty value is a mistake, not a name).
func validateIndexOption(_ index: String) throws {
    if index.isEmpty { throw ValidationError("--index needs a folder name; '' names none") }
}

/// `validateIndexType` against an open catalog: also whether its store holds enough vectors
/// to train the type.
func validateIndexType(_ spec: String?, for catalog: Catalog) throws {
    guard let spec else { return }
    try validateIndexType(spec, dimension: catalog.store.identity.dimension)
    do { try catalog.checkIndexType(spec) } catch let error as EngineError {
        guard case .tooFewVectorsToTrain = error else { throw error }
        throw ValidationError("\(error)")
    }
}

/// Checks $KESTREL_INDEX_MEMORY, which the automatic index choice reads.
func validateIndexMemory() throws {
    do { _ = try Catalog.indexMemoryBudget } catch { throw ValidationError("\(error)") }
}

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index", abstract: "Build and maintain an image catalog (LMDB store + FAISS index).",
        subcommands: [IndexAdd.self, IndexRemove.self, IndexRebuild.self, IndexStats.self, IndexList.self])
}

struct IndexAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add image files and folders (recursively) to an index; resumable, re-run to pick up changes.",
        discussion: """
            Each batch is one store transaction: kill the run at any point and run it again to
            continue where it stopped. Files that cannot be read, decoded or stored (a path longer
            than the store's 511-byte keys) are listed at the end and in INDEX/ingest-report.json;
            they never stop the run, and the exit status is then 1.
            """)

    @Option(name: .long, help: ArgumentHelp(defaultIndexHelp)) var index = "Indexes/default"
    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .long, help: "Index type: auto, flat, hnsw, ivf, ivfsq8, ivfpq, sq8, or a FAISS factory string (\"HNSW32,Flat\"); see the README for the supported forms.")
    var indexType: String?
    @Flag(name: .long, help: "Store vectors as float16 (half the space; only when the store is created).")
    var float16 = false
    @Flag(name: .long, help: "Drop stored paths under the given folders whose files are gone.")
    var prune = false
    @Flag(name: .long, help: "No progress output.")
    var quiet = false
    @Argument(help: "Image files or folders.") var paths: [String]

    func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one file or folder to add") }
        try validateIndexType(indexType)
        try validateIndexMemory()
        try validateIndexOption(index)
        // A missing path is a failed input (listed, exit 1), not a usage error: the rest is added.
    }

    func run() throws {
        try reportingErrors {
            var embedder = try modelOptions.embedder()
            let identity = try ModelFingerprint.identity(of: embedder.model)
            try validateIndexType(indexType, dimension: identity.dimension)
            let catalog: Catalog
            do {
                catalog = try Catalog.openForWriting(RawArguments.absolutePath(index), identity: identity,
                                                     modelPath: embedder.model.directory.standardizedFileURL.path,
                                                     orientation: embedder.preprocessor.decoder.orientation,
                                                     precision: embedder.model.precision,
                                                     jpegDecoding: embedder.preprocessor.decoder.jpegDecoding,
                                                     vectorStorage: float16 ? .float16 : .float32, indexSpec: indexType,
                                                     warn: { Console.warning($0) })
            } catch EngineError.precisionMismatch(let shown, let recorded, let used)
                        where recorded == embedder.model.requestedPrecision && used != recorded {
                // The precision asked for is the index's, but it cannot run here (the warning above
                // says why): passing it again would not help.
                throw CommandFailure(message: "\(shown): the index's image vectors were made at --precision \(recorded.rawValue), which"
                    + " cannot run here (this run falls back to \(used.rawValue)); vectors of two precisions are not mixed"
                    + " in one index ---> HINT: add to this index on a machine that runs \(recorded.rawValue), or build a"
                    + " new one here with `kestrel index add --index NEWDIR --precision \(used.rawValue) --model MODEL PATH...`")
            }
            // Without --jpeg-decode, an existing index's setting is followed.
            if modelOptions.imageOptions.jpegDecode == nil, let recorded = catalog.jpegDecoding {
                embedder = embedder.with(jpegDecoding: recorded)
            }
            // Text embeddings of generic prompts: approximate indexes are tuned for text queries too.
            // They depend only on the model, which the catalog pins: embedded once, at the first add.
            if catalog.tuningQueries.isEmpty {
                do { try catalog.setTuningQueries(try embedder.tuningQueries()) } catch {
                    Console.warning("the model's text tower could not embed the tuning prompts (\(error)); approximate indexes are tuned without text queries")
                }
            }
            var options = IngestOptions()
            options.batchSize = modelOptions.batchSize
            options.prune = prune
            if !quiet {
                let bar = ProgressReporter(label: "ingest", total: 0, isTerminal: Console.stderrIsTerminal, write: Console.writeStderr)
                options.progress = { done, total in
                    bar.update(done, total: total)
                    if done == total { bar.finish(done) }
                }
            }
            let report: IngestReport
            do {
                report = try Ingestor(catalog: catalog, embedder: embedder, options: options).run(RawArguments.paths(paths))
            } catch let stopped as IngestStopped {
                // The disk filled up: the summary of what went in, then the error.
                summarize(stopped.report, catalog)
                throw stopped
            }
            summarize(report, catalog)
            if let problem = report.indexProblem { Console.error(problem) }
            if !report.failed.isEmpty || report.indexProblem != nil { throw ExitCode(1) }  // the rest is stored
        }
    }

    /// The summary lines on stderr, each failed and skipped file, and where the report is.
    func summarize(_ report: IngestReport, _ catalog: Catalog) {
        let say = Console.say
        say(String(format: "added %d, duplicates %d, unchanged %d, changed %d, pruned %d, failed %d, skipped %d",
                   report.added, report.duplicates, report.unchanged, report.changed, report.pruned, report.failed.count, report.skipped.count))
        say(String(format: "throughput: %.1f images/s (%d embedded in %.1f s; the index build after took %.1f s)", report.imagesPerSecond,
                   report.added + report.changed, report.embeddingSeconds, report.closingIndexSeconds))
        say("time: \(report.times.summary)")
        say("index: \(catalog.index.factory), \(catalog.index.count) vector\(catalog.index.count == 1 ? "" : "s")\(catalog.index.searchParameterSummary.map { ", " + $0 } ?? "")")
        for f in report.failed { Console.error("\(f.path): \(f.reason)") }
        for s in report.skipped { Console.warning("skipped \(s.path): \(s.reason)") }
        if let why = report.reportNotWritten {
            Console.warning("the report was not written to \(Catalog.reportPath(catalog.location)): \(why)")
        } else {
            say("report: \(Catalog.reportPath(catalog.location))")
        }
    }
}

struct IndexRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove files (or every file under a folder) from an index.")
    @Option(name: .long, help: ArgumentHelp(defaultIndexHelp)) var index = "Indexes/default"
    @Argument(help: "Paths as they were added (files, or folders: everything under them).") var paths: [String]

    func validate() throws { try validateIndexOption(index) }

    func run() throws {
        try reportingErrors {
            let catalog = try Catalog.open(RawArguments.absolutePath(index), writable: true, warn: { Console.warning($0) })
            // Bytewise: `café` in NFC and in NFD are two different files.
            var matches = Set<FilePathBytes>()
            var missing: [FilePathBytes] = []
            for root in RawArguments.paths(paths).map({ $0.standardized() }) {
                let found = try catalog.storedPaths(under: root)
                if found.isEmpty { missing.append(root) }
                matches.formUnion(found)
            }
            let removed = try catalog.remove(paths: matches.sorted())
            try catalog.saveIndex()
            // Each path that matched nothing is a failed input: exit 1, the others are removed.
            for p in missing { Console.error("not in the index: \(p)") }
            Console.say("removed \(matches.count) paths, \(removed.count) items")
            if !missing.isEmpty { throw ExitCode(1) }
        }
    }
}

struct IndexRebuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild", abstract: "Rebuild the vector index from the store (optionally as another type).")
    @Option(name: .long, help: ArgumentHelp(defaultIndexHelp)) var index = "Indexes/default"
    @Option(name: .long, help: "Index type: auto, flat, hnsw, ivf, ivfsq8, ivfpq, sq8, or a FAISS factory string; see the README for the supported forms.") var indexType: String?
    @Option(name: .long, parsing: .unconditional, help: "Recall@10 target for tuning nprobe / efSearch, above 0 and at most 1.") var recall: Double?

    func validate() throws {
        if let recall, !(recall > 0 && recall <= 1) { throw ValidationError("--recall must be a number above 0 and at most 1, got \(recall)") }
        try validateIndexType(indexType)
        try validateIndexMemory()
        try validateIndexOption(index)
    }

    func run() throws {
        try reportingErrors {
            // The old index file is never read: a rebuild must work when it is missing, damaged
            // or from another store.
            let catalog = try Catalog.open(RawArguments.absolutePath(index), writable: true, loadIndex: false,
                                           warn: { Console.warning($0) })
            try validateIndexType(indexType, for: catalog)
            let r = try catalog.rebuildIndex(spec: indexType, recallTarget: recall)
            // A write command's summary: on stderr, as `index add` and `index remove` write theirs.
            Console.say(String(format: "rebuilt %@ over %d items in %.1f s%@", r.factory, r.items, r.seconds, r.tuning.map { "; " + $0 } ?? ""))
        }
    }
}

struct IndexStats: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Describe an index.")
    @Option(name: .long, help: ArgumentHelp(defaultIndexHelp)) var index = "Indexes/default"
    @Flag(name: .long, help: "One JSON object.") var json = false

    func validate() throws { try validateIndexOption(index) }

    func run() throws {
        try reportingErrors {
            let catalog = try Catalog.open(RawArguments.absolutePath(index), warn: { Console.warning($0) })
            let s = catalog.store, ix = catalog.index
            let fields: [(String, JSONValue)] = [
                ("items", .int(try s.count)), ("indexed", .int(ix.count)), ("index_type", .string(ix.factory)),
                ("model", .string(s.identity.name)), ("model_fingerprint", .string(s.identity.fingerprint)),
                ("model_path", catalog.modelPath.map(JSONValue.string) ?? .null), ("dimension", .int(s.identity.dimension)),
                ("paths", .int(try s.pathCount)), ("vector_storage", .string(s.vectorStorage.rawValue)),
                ("orientation", .string(catalog.orientation.rawValue)), ("precision", .string(catalog.precision.rawValue)),
                ("jpeg_decode", catalog.jpegDecoding.map { .string($0.rawValue) } ?? .null),
                ("log_sequence", .int(Int(try s.lastSequence))), ("index_sequence", .int(Int(ix.coveredSequence))),
                ("search_parameters", ix.searchParameterSummary.map(JSONValue.string) ?? .null),
            ]
            if json { Console.emit(.object(fields)); return }
            // User text (the model's path and name) escaped as file names are: one line per field.
            for (k, v) in fields { print("\(k.padding(toLength: 18, withPad: " ", startingAt: 0)) \(Console.field(v.plain))") }
        }
    }
}

struct IndexList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the stored paths with their item ids (JSON lines with --json).")
    @Option(name: .long, help: ArgumentHelp(defaultIndexHelp)) var index = "Indexes/default"
    @Flag(name: .long, help: "JSON lines {\"id\", \"path\", \"width\", \"height\", \"size\", \"sha256\"} (and \"path_bytes\" for names that are not UTF-8).") var json = false

    func validate() throws { try validateIndexOption(index) }

    func run() throws {
        try reportingErrors {
            let catalog = try Catalog.open(RawArguments.absolutePath(index), warn: { Console.warning($0) })
            for (path, item) in try catalog.store.pathItems(withPrefix: FilePathBytes([])) {
                let id = item.id
                if json {
                    Console.emit(.object([("id", .int(Int(id)))] + JSONValue.path("path", path) + [
                        ("width", .int(item.width)), ("height", .int(item.height)), ("size", .int(Int(item.fileSize))),
                        ("sha256", .string(item.contentHash)),
                    ]))
                } else {
                    print("\(id)\t\(path)")  // escaped: see PathText
                }
            }
        }
    }
}
