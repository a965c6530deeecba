import ArgumentParser
import Foundation
import KestrelEngine

/// Where index folders go when --index is not given: Indexes/default (relative to the current folder).
let defaultIndexHelp = "Index folder (default: Indexes/default)."

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
            continue where it stopped. Files that fail to decode are listed at the end and in
            INDEX/ingest-report.json; they never stop the run.
            """)

    @Option(name: .long, help: ArgumentHelp(defaultIndexHelp)) var index = "Indexes/default"
    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .long, help: "Index type: auto, flat, hnsw, ivf, ivfpq, sq8, or a FAISS factory string (\"HNSW32,Flat\").")
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
        for p in paths where !FileManager.default.fileExists(atPath: p) { throw ValidationError("\(p): no such file or folder") }
    }

    func run() throws {
        try reportingErrors {
            let embedder = try modelOptions.embedder()
            let identity = try ModelFingerprint.identity(of: embedder.model)
            let catalog = try Catalog.openForWriting(URL(fileURLWithPath: index), identity: identity,
                                                     modelPath: embedder.model.directory.standardizedFileURL.path,
                                                     vectorStorage: float16 ? .float16 : .float32, indexSpec: indexType,
                                                     warn: { Console.warning($0) })
            var options = IngestOptions()
            options.batchSize = modelOptions.batchSize
            options.prune = prune
            options.progress = !quiet
            let report = try Ingestor(catalog: catalog, embedder: embedder, options: options).run(paths.map { URL(fileURLWithPath: $0) })
            let err = FileHandle.standardError
            func say(_ s: String) { err.write(Data((s + "\n").utf8)) }
            say(String(format: "added %d, duplicates %d, unchanged %d, changed %d, pruned %d, failed %d, skipped %d",
                       report.added, report.duplicates, report.unchanged, report.changed, report.pruned, report.failed.count, report.skipped.count))
            say(String(format: "throughput: %.1f images/s (%d embedded in %.1f s)", report.imagesPerSecond, report.added + report.changed, report.seconds))
            say("time: \(report.times.summary)")
            say("index: \(catalog.index.factory), \(catalog.index.count) vectors\(catalog.index.searchParameterSummary.map { ", " + $0 } ?? "")")
            for f in report.failed { Console.error("\(f.path): \(f.reason)") }
            for s in report.skipped { Console.warning("skipped \(s.path): \(s.reason)") }
            say("report: \(Catalog.reportURL(catalog.directory).path)")
        }
    }
}

struct IndexRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove files (or every file under a folder) from an index.")
    @Option(name: .long, help: ArgumentHelp(defaultIndexHelp)) var index = "Indexes/default"
    @Argument(help: "Paths as they were added (files, or folders: everything under them).") var paths: [String]

    func run() throws {
        try reportingErrors {
            let catalog = try Catalog.open(URL(fileURLWithPath: index), writable: true, warn: { Console.warning($0) })
            let wanted = paths.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            let stored = try catalog.store.paths()
            let matches = stored.filter { p in wanted.contains { FolderWalker.path(p, isUnder: $0) } }
            let removed = try catalog.store.removePaths(matches)
            try catalog.indexRemoved(ids: removed, coveredSequence: try catalog.store.lastSequence)
            try catalog.saveIndex()
            FileHandle.standardError.write(Data("removed \(matches.count) paths, \(removed.count) items\n".utf8))
        }
    }
}

struct IndexRebuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild", abstract: "Rebuild the vector index from the store (optionally as another type).")
    @Option(name: .long, help: ArgumentHelp(defaultIndexHelp)) var index = "Indexes/default"
    @Option(name: .long, help: "Index type: auto, flat, hnsw, ivf, ivfpq, sq8, or a FAISS factory string.") var indexType: String?
    @Option(name: .long, help: "Recall@10 target for tuning nprobe / efSearch.") var recall: Double?

    func run() throws {
        try reportingErrors {
            // The old index file is never read: a rebuild must work when it is missing, damaged
            // or from another store.
            let catalog = try Catalog.open(URL(fileURLWithPath: index), writable: true, loadIndex: false,
                                           warn: { Console.warning($0) })
            let r = try catalog.rebuildIndex(spec: indexType, recallTarget: recall)
            print(String(format: "rebuilt %@ over %d items in %.1f s%@", r.factory, r.items, r.seconds, r.tuning.map { "; " + $0 } ?? ""))
        }
    }
}

struct IndexStats: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Describe an index.")
    @Option(name: .long, help: ArgumentHelp(defaultIndexHelp)) var index = "Indexes/default"
    @Flag(name: .long, help: "One JSON object.") var json = false

    func run() throws {
        try reportingErrors {
            let catalog = try Catalog.open(URL(fileURLWithPath: index), warn: { Console.warning($0) })
            let s = catalog.store, ix = catalog.index
            let fields: [(String, JSONValue)] = [
                ("items", .int(try s.count)), ("indexed", .int(ix.count)), ("index_type", .string(ix.factory)),
                ("model", .string(s.identity.name)), ("model_fingerprint", .string(s.identity.fingerprint)),
                ("model_path", catalog.modelPath.map(JSONValue.string) ?? .null), ("dimension", .int(s.identity.dimension)),
                ("paths", .int(try s.pathCount)), ("vector_storage", .string(s.vectorStorage.rawValue)),
                ("log_sequence", .int(Int(try s.lastSequence))), ("index_sequence", .int(Int(ix.coveredSequence))),
                ("search_parameters", ix.searchParameterSummary.map(JSONValue.string) ?? .null),
            ]
            if json { Console.emit(.object(fields)); return }
            for (k, v) in fields { print("\(k.padding(toLength: 18, withPad: " ", startingAt: 0)) \(v.plain)") }
        }
    }
}

struct IndexList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the stored paths with their item ids (JSON lines with --json).")
    @Option(name: .long, help: ArgumentHelp(defaultIndexHelp)) var index = "Indexes/default"
    @Flag(name: .long, help: "JSON lines {\"id\", \"path\", \"width\", \"height\", \"size\", \"sha256\"}.") var json = false

    func run() throws {
        try reportingErrors {
            let catalog = try Catalog.open(URL(fileURLWithPath: index), warn: { Console.warning($0) })
            for path in try catalog.store.paths() {
                guard let p = try catalog.store.lookup(path: path), let item = try catalog.store.item(id: p.id) else { continue }
                if json {
                    Console.emit(.object([("id", .int(Int(p.id))), ("path", .string(path)), ("width", .int(item.width)),
                                          ("height", .int(item.height)), ("size", .int(Int(item.fileSize))), ("sha256", .string(item.contentHash))]))
                } else {
                    print("\(p.id)\t\(path)")
                }
            }
        }
    }
}
