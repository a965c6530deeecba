import Foundation
import KestrelStore
#if canImport(Glibc)
import Glibc
#endif

/// Options for adding folders of images to a catalog.
public struct IngestOptions: Sendable {
    /// Images per model call and per store transaction, at least 1 (`run` throws otherwise).
    public var batchSize = 16
    /// Drop stored paths under the given folders whose files are gone.
    public var prune = false
    /// Save the index after this many seconds of new work (it is caught up from the store at
    /// the next open anyway; saving often only shortens that catch-up).
    public var saveInterval: TimeInterval = 30
    /// Show progress on stderr.
    public var progress = true
    public init() {}
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
    public var failed: [(path: String, reason: String)] = []
    public var skipped: [(path: String, reason: String)] = []
    public var seconds = 0.0
    public var times = StageTimes()

    /// Images embedded per second of wall time.
    public var imagesPerSecond: Double { seconds > 0 ? Double(added + changed) / seconds : 0 }

    public var json: String {
        func list(_ xs: [(path: String, reason: String)]) -> [[String: String]] { xs.map { ["path": $0.path, "reason": $0.reason] } }
        let object: [String: Any] = [
            "candidates": candidates, "added": added, "duplicates": duplicates, "unchanged": unchanged,
            "changed": changed, "pruned": pruned, "failed": list(failed), "skipped": list(skipped),
            "seconds": seconds, "images_per_second": imagesPerSecond,
            "stage_seconds": times.seconds,
        ]
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
    struct Candidate { let url: URL; let path: String; let size: UInt64; let mtime: Int64 }

    public func run(_ roots: [URL]) throws -> IngestReport {
        guard options.batchSize >= 1 else { throw EngineError.badArgument("batchSize", "must be at least 1, got \(options.batchSize)") }
        var report = IngestReport()
        for stage in ["walk", "read", "decode", "preprocess", "encode", "store", "index"] { report.times.add(stage, 0) }
        let start = Date()
        let walk = report.times.time("walk") { FolderWalker().walk(roots) }
        report.skipped = walk.skipped
        report.candidates = walk.images.count
        let store = catalog.store

        // Which files need work: new paths, or known paths whose size or mtime changed.
        var todo: [Candidate] = []
        for url in walk.images {
            var st = stat()
            guard stat(url.path, &st) == 0 else { report.failed.append((url.path, "cannot stat: \(String(cString: strerror(errno)))")); continue }
            let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
            let c = Candidate(url: url, path: url.path, size: UInt64(st.st_size), mtime: mtime)
            if let known = try store.lookup(path: c.path), known.matches(fileSize: c.size, mtimeNanoseconds: c.mtime) {
                report.unchanged += 1
            } else {
                todo.append(c)
            }
        }

        let progress = ProgressReporter(label: "ingest", total: todo.count, quiet: !options.progress)
        var lastSave = Date()
        var done = 0
        for batchStart in stride(from: 0, to: todo.count, by: options.batchSize) {
            let batch = Array(todo[batchStart..<min(batchStart + options.batchSize, todo.count)])
            try ingestBatch(batch, &report)
            done += batch.count
            progress.update(done)
            if Date().timeIntervalSince(lastSave) > options.saveInterval {
                try report.times.time("index") { try catalog.saveIndex() }
                lastSave = Date()
            }
        }
        progress.finish(done)

        if options.prune {
            let roots = roots.map { $0.standardizedFileURL.path }
            let gone = try store.paths().filter { p in
                roots.contains { FolderWalker.path(p, isUnder: $0) } && !FileManager.default.fileExists(atPath: p)
            }
            if !gone.isEmpty {
                let removed = try report.times.time("store") { try store.removePaths(gone) }
                try report.times.time("index") { try catalog.indexRemoved(ids: removed, coveredSequence: try store.lastSequence) }
                report.pruned = gone.count
            }
        }

        try report.times.time("index") {
            if try catalog.needsRebuild() { try catalog.rebuildIndex() } else { try catalog.saveIndex() }
        }
        report.seconds = Date().timeIntervalSince(start)
        try? Data(report.json.utf8).write(to: Catalog.reportURL(catalog.directory), options: .atomic)
        return report
    }

    /// Reads, hashes, decodes and embeds one batch, then stores it in one transaction and
    /// adds the new vectors to the index.
    private func ingestBatch(_ batch: [Candidate], _ report: inout IngestReport) throws {
        let store = catalog.store
        // Read and hash (content already stored needs no decode or embedding).
        var hashed: [(Candidate, Data, String)] = []
        report.times.time("read") {
            for c in batch {
                do {
                    let data = try Data(contentsOf: c.url)
                    hashed.append((c, data, SHA256.hex(SHA256.hash(data))))
                } catch {
                    report.failed.append((c.path, "cannot read: \(error.localizedDescription)"))
                }
            }
        }
        var items: [NewItem] = []
        var needEmbedding: [(index: Int, pixels: [Float])] = []
        var decoded: [(Candidate, String, DecodedImage?, ItemRecord?)] = []
        // Content already stored needs no decoding: its item supplies width and height.
        let stored = try hashed.map { try store.lookup(contentHash: $0.2) }
        // Decode the new content in parallel.
        let images: [Result<DecodedImage, Error>?] = report.times.time("decode") {
            parallelMap(Array(hashed.indices)) { i -> Result<DecodedImage, Error>? in
                guard stored[i] == nil else { return nil }
                return Result { try embedder.preprocessor.decoder.decode(bytes: [UInt8](hashed[i].1), name: hashed[i].0.path) }
            }
        }
        for (i, h) in hashed.enumerated() {
            switch images[i] {
            case nil: decoded.append((h.0, h.2, nil, stored[i]))
            case .success(let image)?: decoded.append((h.0, h.2, image, nil))
            case .failure(let error)?: report.failed.append((h.0.path, "\(error)"))
            }
        }
        let pixels: [Result<[Float], Error>?] = report.times.time("preprocess") {
            parallelMap(decoded) { d in d.2.map { image in Result { try embedder.pixels(image, name: d.0.path) } } }
        }
        for (i, d) in decoded.enumerated() {
            switch pixels[i] {
            case nil: break
            case .success(let p)?: needEmbedding.append((items.count, p))
            case .failure(let error)?: report.failed.append((d.0.path, "\(error)")); continue
            }
            items.append(NewItem(path: d.0.path, contentHash: d.1, fileSize: d.0.size, mtimeNanoseconds: d.0.mtime,
                                 width: d.2?.width ?? d.3?.width ?? 0, height: d.2?.height ?? d.3?.height ?? 0, embedding: nil))
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
}
