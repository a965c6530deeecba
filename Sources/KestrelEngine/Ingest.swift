import Foundation
import KestrelFiles
import KestrelIndex
import KestrelStore

/// Options for adding folders of images to a catalog.
public struct IngestOptions: Sendable {
    /// Images per model call and per store transaction, at least 1 (`run` throws otherwise).
    public var batchSize = 16
    /// Drop stored paths under the given folders whose files are gone.
    public var prune = false
    /// Save the index after this many seconds of new work (it is caught up from the store at
    /// the next open anyway; saving often only shortens that catch-up).
    public var saveInterval: TimeInterval = 30
    /// Threads that read, decode and preprocess files ahead of the encoder (at least 0; nil:
    /// `IngestOptions.defaultDecodeThreads`). 0 does that work between batches, on the calling
    /// thread, with nothing overlapping (the order of work before the pipeline).
    public var decodeThreads: Int?
    /// Called with (files done, files to do) after each batch; nil for no progress. The library
    /// never writes to stderr itself: the caller decides where progress goes.
    public var progress: (@Sendable (_ done: Int, _ total: Int) -> Void)?
    public init() {}

    /// One decode thread per core beyond the first, at least one: the encoder uses every core
    /// while a batch runs, and one thread keeps the queue filled when decoding reduced JPEGs
    /// costs well under the encoder's time per image (docs/benchmarks.md, "Ingest").
    public static var defaultDecodeThreads: Int { max(1, ProcessInfo.processInfo.activeProcessorCount - 1) }
}

/// What an ingest did. Written as JSON to DIR/ingest-report.json.
public struct IngestReport: Sendable {
    public var candidates = 0
    /// New content embedded and stored.
    public var added = 0
    /// Files whose bytes were already stored under another path (stored once, path attached).
    public var duplicates = 0
    /// Files seen before with the same size and mtime.
    public var unchanged = 0
    /// Files whose content changed since the last ingest (re-embedded).
    public var changed = 0
    /// Paths dropped because their files are gone (with --prune).
    public var pruned = 0
    /// Inputs that could not be read, decoded or stored (each once; the reason does not repeat the path).
    public var failed: [FileProblem] = []
    /// Files met in folders and skipped as not usable images.
    public var skipped: [FileProblem] = []
    /// Wall time of the whole run, the closing index build included.
    public var seconds = 0.0
    /// Of `seconds`, the closing index build or save (an HNSW rebuild over the whole store can
    /// take longer than embedding a few new files).
    public var closingIndexSeconds = 0.0
    public var times = StageTimes()
    /// Why DIR/ingest-report.json could not be written (a full disk...); nil when it was.
    public var reportNotWritten: String?
    /// Why the closing index build failed (a requested index type the store cannot train yet,
    /// say); nil when it succeeded. The files were stored; the index in place was kept.
    public var indexProblem: String?

    /// An empty report (every count 0).
    public init() {}

    /// Of `seconds`, everything but the closing index build (never negative).
    public var embeddingSeconds: Double { max(0, seconds - closingIndexSeconds) }

    /// Images embedded per second of `embeddingSeconds` (1 new image and a rebuild of the whole
    /// index is not 0.1 images/s of embedding); 0 when no time was measured.
    public var imagesPerSecond: Double { embeddingSeconds > 0 ? Double(added + changed) / embeddingSeconds : 0 }

    /// The report as JSON. A path is `"path"`: its text, with each byte that is not valid UTF-8
    /// as U+FFFD, plus, only for such names, `"path_bytes"`: the exact bytes in base64.
    public var json: String {
        func list(_ xs: [FileProblem]) -> [[String: String]] {
            xs.map { p in
                var entry = ["path": p.path.lossyString, "reason": p.reason]
                if !p.path.isValidUTF8 { entry["path_bytes"] = Data(p.path.bytes).base64EncodedString() }
                return entry
            }
        }
        var object: [String: Any] = [
            "candidates": candidates, "added": added, "duplicates": duplicates, "unchanged": unchanged,
            "changed": changed, "pruned": pruned, "failed": list(failed), "skipped": list(skipped),
            "seconds": seconds, "images_per_second": imagesPerSecond, "index_build_seconds": closingIndexSeconds,
            "stage_seconds": times.seconds,
        ]
        if let indexProblem { object["index_error"] = indexProblem }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

/// Walks folders and adds their images to a catalog, in batches, resumably: each batch is one
/// store transaction, so a killed run loses at most the batch in flight, and a second run skips
/// every file already stored with the same size and mtime.
public struct Ingestor {
    public let catalog: Catalog
    public let embedder: Embedder
    public var options: IngestOptions

    public init(catalog: Catalog, embedder: Embedder, options: IngestOptions = IngestOptions()) {
        self.catalog = catalog
        self.embedder = embedder
        self.options = options
    }

    /// A file to look at: where it is and what stat says of it.
    struct Candidate: Sendable { let path: FilePathBytes; let size: UInt64; let mtime: Int64 }

    /// Adds the images in `roots` (files or folders, walked recursively). A file that cannot be
    /// read, decoded or stored is one entry of `failed`, never the end of the run.
    public func run(_ roots: [FilePathBytes]) throws -> IngestReport {
        guard options.batchSize >= 1 else { throw EngineError.badArgument("batchSize", "must be at least 1, got \(options.batchSize)") }
        // Vectors made with the other EXIF setting would not compare with the stored ones.
        try catalog.requireOrientation(embedder.preprocessor.decoder.orientation)
        // Nor would vectors made at another precision (bf16, int8 against fp32).
        try catalog.requirePrecision(embedder.model.precision)
        try catalog.requireJPEGDecoding(embedder.preprocessor.decoder.jpegDecoding)
        var report = IngestReport()
        for stage in ["walk", "read", "decode", "preprocess", "wait", "encode", "store", "index"] { report.times.add(stage, 0) }
        let start = Date()
        let walk = report.times.time("walk") { FolderWalker().walk(roots) }
        report.skipped = walk.skipped
        report.failed = walk.failed
        report.candidates = walk.images.count
        let store = catalog.store

        // Which files need work: new paths, or known paths whose size or mtime changed.
        var todo: [Candidate] = []
        for path in walk.images {
            // A path the store cannot keep (longer than its keys) fails alone, before any work.
            guard path.bytes.count <= store.maxPathBytes else {
                report.failed.append(FileProblem(path: path, reason: "the path is \(path.bytes.count) bytes, longer than the \(store.maxPathBytes) bytes the store can keep (LMDB's key limit); move the file to a shorter path"))
                continue
            }
            let st: FileStatus
            do { st = try FileSystem.status(path) } catch {
                report.failed.append(FileProblem(path: path, reason: Ingestor.reason(error, path))); continue
            }
            let c = Candidate(path: path, size: st.size, mtime: st.mtimeNanoseconds)
            if let known = try store.lookup(path: c.path), known.matches(fileSize: c.size, mtimeNanoseconds: c.mtime) {
                report.unchanged += 1
            } else {
                todo.append(c)
            }
        }

        if todo.isEmpty { options.progress?(0, 0) }
        var done = 0
        do {
            try storeBatches(todo, roots, &report, &done)
        } catch where Ingestor.isDiskFull(error) {
            // Every batch before this one is committed: say what went in, write the report if
            // the disk still takes it, and stop.
            report.seconds = Date().timeIntervalSince(start)
            writeReport(&report)
            throw IngestStopped(index: catalog.location.description, store: store.location.description, report: report,
                                filesLeft: todo.count - done, cause: "\(error)")
        }
        report.seconds = Date().timeIntervalSince(start)
        writeReport(&report)
        return report
    }

    /// Writes DIR/ingest-report.json, noting in the report when it cannot.
    private func writeReport(_ report: inout IngestReport) {
        do {
            try FileSystem.writeFileAtomically(Array(report.json.utf8), to: Catalog.reportPath(catalog.location))
        } catch {
            report.reportNotWritten = "\(error)"
        }
    }

    /// A full disk (or quota), from the store or from saving the index file.
    static func isDiskFull(_ error: Error) -> Bool {
        if case StoreError.diskFull = error { return true }
        if case IndexError.io(_, _, let code) = error { return code == ENOSPC || code == EDQUOT }
        return false
    }

    /// The batches, the pruning and the final index save of `run`. `done` counts the files whose
    /// batch is committed.
    private func storeBatches(_ todo: [Candidate], _ roots: [FilePathBytes], _ report: inout IngestReport, _ done: inout Int) throws {
        var lastSave = Date()
        // Workers read, hash, look up and decode files ahead, in order, while this thread encodes
        // and stores batch after batch: each batch is still one transaction, in file order.
        let prefetch = OrderedPrefetch(todo, workers: options.decodeThreads ?? IngestOptions.defaultDecodeThreads,
                                       lookahead: 2 * options.batchSize) { [catalog, embedder] c in
            Ingestor.prepareFile(c, store: catalog.store, embedder: embedder)
        }
        defer { prefetch.stop() }
        for batchStart in stride(from: 0, to: todo.count, by: options.batchSize) {
            let (files, waited) = prefetch.take(batchStart..<min(batchStart + options.batchSize, todo.count))
            report.times.add("wait", waited)
            try ingestBatch(files, &report)
            done += files.count
            options.progress?(done, todo.count)
            if Date().timeIntervalSince(lastSave) > options.saveInterval {
                try report.times.time("index") { try catalog.saveIndex() }
                lastSave = Date()
            }
        }

        if options.prune {
            // Stored paths under each root (bytewise: `café` in NFC is not `café` in NFD) whose
            // file is gone. Only "no such file" counts as gone; a file we may not stat is kept.
            var gone = Set<FilePathBytes>()
            for root in roots.map({ $0.standardized() }) {
                for p in try catalog.storedPaths(under: root) where !FileSystem.exists(p) { gone.insert(p) }
            }
            if !gone.isEmpty {
                _ = try report.times.time("store") { try catalog.remove(paths: gone.sorted()) }
                report.pruned = gone.count
            }
        }

        // Every file is stored by now: a closing build that fails (other than on a full disk)
        // is reported beside the files, not in place of the run's summary.
        let closing = Date()
        defer { report.closingIndexSeconds = Date().timeIntervalSince(closing) }
        do {
            try report.times.time("index") {
                if try catalog.needsRebuild() { try catalog.rebuildIndex() } else { try catalog.saveIndex() }
            }
        } catch where !Ingestor.isDiskFull(error) {
            report.indexProblem = "\(error)"
        }
    }

    /// A file after the workers' part of an ingest.
    enum PreparedFile: Sendable {
        /// Read and hashed; `stored` is the item already holding this content (then nothing was
        /// decoded), else `prepared` is the decode's outcome. Seconds spent reading and hashing.
        case ready(Candidate, hash: String, stored: ItemRecord?, prepared: Result<PreparedImage, Error>?, readSeconds: Double)
        /// It could not be read: one failed entry.
        case unreadable(FileProblem, readSeconds: Double)
        /// The store could not be read: the run stops (as before the pipeline).
        case storeFailed(Error)
    }

    /// Reads, hashes and looks up one file, then decodes and preprocesses it unless its content is
    /// already stored. Runs on the pipeline's workers (the store is read from many threads).
    static func prepareFile(_ c: Candidate, store: Store, embedder: Embedder) -> PreparedFile {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let data: [UInt8], hash: String, stored: ItemRecord?
        do {
            // By kind and size before reading: a FIFO or device is never opened for a read that cannot end.
            data = try FileSystem.readFile(c.path, limit: Embedder.imageFileByteLimit)
            hash = SHA256.hex(SHA256.hash(data))
        } catch {
            return .unreadable(FileProblem(path: c.path, reason: Ingestor.reason(error, c.path)),
                               readSeconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        do { stored = try store.lookup(contentHash: hash) } catch { return .storeFailed(error) }
        let read = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        // Content already stored needs no decoding: its item supplies width and height.
        guard stored == nil else { return .ready(c, hash: hash, stored: stored, prepared: nil, readSeconds: read) }
        // Inside the embedder's decode memory budget; only the model input is kept.
        let prepared = Result { try embedder.prepare(bytes: data, name: c.path.description) }
        return .ready(c, hash: hash, stored: nil, prepared: prepared, readSeconds: read)
    }

    /// Embeds one batch of prepared files, then stores it in one transaction and adds the new
    /// vectors to the index.
    private func ingestBatch(_ files: [PreparedFile], _ report: inout IngestReport) throws {
        let store = catalog.store
        var items: [NewItem] = []
        var needEmbedding: [(index: Int, pixels: [Float])] = []
        for file in files {
            switch file {
            case .storeFailed(let error): throw error
            case .unreadable(let problem, let read):
                report.times.add("read", read)
                report.failed.append(problem)
            case .ready(let c, let hash, var stored, var prepared, let read):
                report.times.add("read", read)
                // The worker looked before the previous batches were committed: content one of
                // them stored since needs no embedding (as when the files were read in turn).
                if stored == nil, let now = try store.lookup(contentHash: hash) { stored = now; prepared = nil }
                var size = (stored?.width ?? 0, stored?.height ?? 0)
                switch prepared {
                case nil: break
                case .success(let p)?:
                    // Busy seconds of the workers: they overlap the encoder's.
                    report.times.add("decode", p.decodeSeconds)
                    report.times.add("preprocess", p.preprocessSeconds)
                    size = (p.width, p.height)
                    needEmbedding.append((items.count, p.pixels))
                case .failure(let error)?:
                    report.failed.append(FileProblem(path: c.path, reason: Ingestor.reason(error, c.path)))
                    continue
                }
                items.append(NewItem(path: c.path, contentHash: hash, fileSize: c.size, mtimeNanoseconds: c.mtime,
                                     width: size.0, height: size.1, embedding: nil))
            }
        }
        if !needEmbedding.isEmpty {
            let vectors = try report.times.time("encode") { try embedder.embedPixels(needEmbedding.map(\.pixels)) }
            let e = vectors.lastDim
            for (row, n) in needEmbedding.enumerated() {
                items[n.index].embedding = Array(vectors.data[(row * e)..<((row + 1) * e)])
            }
        }
        guard !items.isEmpty else { return }
        let results = try report.times.time("store") { try store.add(items) }
        var newIDs: [UInt64] = [], newVectors: [Float] = [], goneIDs: [UInt64] = []
        for (item, result) in zip(items, results) {
            switch result {
            case .added(let id):
                report.added += 1; newIDs.append(id); newVectors += item.embedding ?? []
            case .pathAdded: report.duplicates += 1
            case .unchanged: report.unchanged += 1
            case .contentChanged(let previous, let id):
                report.changed += 1
                if (try store.item(id: previous)) == nil { goneIDs.append(previous) }
                if item.embedding != nil, !catalog.index.contains(Int64(id)) { newIDs.append(id); newVectors += item.embedding! }
            }
        }
        try report.times.time("index") {
            let seq = try store.lastSequence
            try catalog.indexRemoved(ids: goneIDs, coveredSequence: seq)
            try catalog.indexAdded(ids: newIDs, vectors: newVectors, coveredSequence: seq)
        }
    }

    /// An error's text without the path in front (errors of the file and image layers start with
    /// "PATH: "), so a report line names the file once.
    static func reason(_ error: Error, _ path: FilePathBytes) -> String {
        if let e = error as? FileError { return e.reason }
        let text = "\(error)"
        let prefix = path.description + ": "
        return text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text
    }
}

/// An ingest that stopped because the disk holding the index folder filled up. Each batch is
/// one store transaction: the batches before the one that hit the full disk are stored, that
/// one is not, and the store is intact. `report` describes what went in.
public struct IngestStopped: Error, CustomStringConvertible, Sendable {
    /// The index folder and its store, for display.
    public var index: String
    public var store: String
    /// What this run did before the disk filled up (its `added`, `changed`, `duplicates`... are
    /// stored).
    public var report: IngestReport
    /// Files of this run that were not stored (the batch that hit the full disk and the ones after it).
    public var filesLeft: Int
    /// The error that stopped the run.
    public var cause: String

    public var description: String {
        let stored = report.added + report.changed + report.duplicates
        let what = stored == 0
            ? "nothing of this run was stored"
            : "\(stored) file\(stored == 1 ? "" : "s") of this run \(stored == 1 ? "was" : "were") stored before it did"
                + " (\(report.added) new, \(report.changed) changed, \(report.duplicates) duplicate\(report.duplicates == 1 ? "" : "s"))"
        let rest = filesLeft > 0
            ? "; the other \(filesLeft) file\(filesLeft == 1 ? " was" : "s were") not stored"
            : "; every file of this run was stored, but the index file could not be saved (the next command catches it up from the store)"
        return "the disk holding \(store) filled up during this run: \(what)\(rest), and the store is intact"
            + " ---> HINT: free some space (`df -h` shows how much is left) and run the same command again:"
            + " it skips the files already stored and continues with the rest"
    }
}
