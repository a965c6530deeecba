import Foundation
import KestrelIndex
import KestrelStore
#if canImport(Glibc)
import Glibc
#endif

/// An index folder: the LMDB store (the source of truth) and the FAISS index derived from it.
///
///     DIR/store/          LMDB environment: items, paths, vectors, change log, model identity
///     DIR/index.faiss     the vector index (+ its header), rebuilt from the store at any time
///     DIR/ingest-report.json   what the last ingest skipped or failed on
///
/// At open, an index that lags behind the store's change log is caught up from it, so a crash
/// between a store write and an index save loses nothing.
public final class Catalog: @unchecked Sendable {
    public let directory: URL
    public let store: Store
    public private(set) var index: VectorIndex
    private var lock: WriterLock?

    public static func storeURL(_ dir: URL) -> URL { dir.appendingPathComponent("store") }
    public static func indexURL(_ dir: URL) -> URL { dir.appendingPathComponent("index.faiss") }
    public static func reportURL(_ dir: URL) -> URL { dir.appendingPathComponent("ingest-report.json") }

    enum MetaKey {
        static let modelPath = "kestrel.model_path"
        static let indexSpec = "kestrel.index_spec"
        static let recallTarget = "kestrel.recall_target"
    }

    public static func exists(_ dir: URL) -> Bool {
        FileManager.default.fileExists(atPath: storeURL(dir).appendingPathComponent("data.mdb").path)
    }

    /// Opens the catalog in `dir`, creating it for `identity` when there is none. A catalog made by
    /// another model is refused (the store's error names both models).
    public static func openForWriting(_ dir: URL, identity: ModelIdentity, modelPath: String,
                                      vectorStorage: VectorStorage = .float32, indexSpec: String? = nil) throws -> Catalog {
        if let indexSpec { try IndexPlanner.validate(factory: indexSpec, dimension: identity.dimension) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let lock = try WriterLock(dir)
        let store: Store
        if exists(dir) {
            store = try Store.open(at: storeURL(dir))
            try store.requireIdentity(identity)
        } else {
            store = try Store.create(at: storeURL(dir), identity: identity, vectorStorage: vectorStorage)
        }
        try store.setMeta(key: MetaKey.modelPath, value: Data(modelPath.utf8))
        if let indexSpec { try store.setMeta(key: MetaKey.indexSpec, value: Data(indexSpec.utf8)) }
        let catalog = try Catalog(dir, store: store)
        catalog.lock = lock
        return catalog
    }

    /// Opens an existing catalog (for search and stats). `writable` takes the writer lock.
    public static func open(_ dir: URL, writable: Bool = false) throws -> Catalog {
        guard exists(dir) else { throw EngineError.noCatalog(dir.path) }
        let lock = writable ? try WriterLock(dir) : nil
        let catalog = try Catalog(dir, store: try Store.open(at: storeURL(dir)))
        catalog.lock = lock
        return catalog
    }

    private init(_ dir: URL, store: Store) throws {
        directory = dir
        self.store = store
        let url = Catalog.indexURL(dir)
        if FileManager.default.fileExists(atPath: url.path) {
            do {
                index = try VectorIndex.load(from: url)
            } catch {
                // Derived data: a damaged index is rebuilt from the store, never trusted.
                FileHandle.standardError.write(Data("warning: \(url.path): \(error); rebuilding it from the store\n".utf8))
                index = try VectorIndex.create(dimension: store.identity.dimension, factory: "Flat")
                index.coveredSequence = 0
                try rebuildIndex()
                return
            }
            guard index.dimension == store.identity.dimension else {
                throw EngineError.indexMismatch(url.path, "dimension \(index.dimension), the store holds \(store.identity.dimension)")
            }
        } else {
            index = try VectorIndex.create(dimension: store.identity.dimension, factory: "Flat")
        }
        try catchUp()
    }

    /// A text value from the store's meta area (nil when absent or unreadable).
    private func metaString(_ key: String) -> String? {
        ((try? store.meta(key: key)) ?? nil).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The model folder the catalog was built with.
    public var modelPath: String? { metaString(MetaKey.modelPath) }

    /// The user's index type (a FAISS factory string or alias); "auto" when never set.
    public var indexSpec: String { metaString(MetaKey.indexSpec) ?? "auto" }

    /// The recall@10 target tuning aims for (0.95 unless set; a stored value outside (0, 1],
    /// which older versions could write for `--recall nan`, counts as unset).
    public var recallTarget: Double {
        guard let stored = metaString(MetaKey.recallTarget).flatMap(Double.init), stored > 0, stored <= 1 else { return 0.95 }
        return stored
    }

    /// Applies the store's changes since the index was last saved. Returns how many were applied.
    @discardableResult
    public func catchUp() throws -> Int {
        let changes = try store.changes(since: index.coveredSequence)
        guard !changes.isEmpty else { return 0 }
        if !index.isTrained { try rebuildIndex(); return changes.count }
        var added: [Int64] = [], vectors: [Float] = [], removed: [Int64] = []
        // Net effect per id: the last change wins.
        var last: [UInt64: Change.Kind] = [:]
        for c in changes { last[c.id] = c.kind }
        for (id, kind) in last.sorted(by: { $0.key < $1.key }) {
            // A present id is removed first; if it is still stored it is re-added below.
            if index.contains(Int64(id)) { removed.append(Int64(id)) }
            if kind == .removed { continue }
            if let v = try store.vector(id: id) { added.append(Int64(id)); vectors += v }
        }
        if !removed.isEmpty { try index.remove(ids: removed) }
        // An HNSW index cannot be trained or tuned as it grows; past the planner's thresholds a
        // rebuild (at the end of an ingest) moves it to the planned type.
        if !added.isEmpty { try index.add(ids: added, vectors: vectors) }
        index.coveredSequence = try store.lastSequence
        if lock != nil { try saveIndex() }
        return changes.count
    }

    /// Adds freshly stored items to the index (the store already holds them); the index is saved
    /// by the caller from time to time, and at worst caught up from the log at the next open.
    public func indexAdded(ids: [UInt64], vectors: [Float], coveredSequence: UInt64) throws {
        if index.isTrained {
            if !ids.isEmpty { try index.add(ids: ids.map { Int64($0) }, vectors: vectors) }
            index.coveredSequence = coveredSequence
        }
    }

    public func indexRemoved(ids: [UInt64], coveredSequence: UInt64) throws {
        let present = ids.map { Int64($0) }.filter { index.contains($0) }
        if !present.isEmpty { try index.remove(ids: present) }
        if index.isTrained { index.coveredSequence = coveredSequence }
    }

    /// Writes the index atomically (temporary file, fsync, rename).
    public func saveIndex() throws {
        try index.save(to: Catalog.indexURL(directory))
    }

    /// Memory the automatic choice may plan for: a quarter of physical memory, or
    /// $KESTREL_INDEX_MEMORY (bytes). Past it the planner moves to SQ8, then PQ codes.
    /// Throws `EngineError.badArgument` when the variable is set to anything but a positive
    /// whole number of bytes.
    public static var indexMemoryBudget: Int {
        get throws {
            guard let env = ProcessInfo.processInfo.environment["KESTREL_INDEX_MEMORY"] else {
                return Int(ProcessInfo.processInfo.physicalMemory / 4)
            }
            guard let n = Int(env.trimmingCharacters(in: .whitespaces)), n > 0 else {
                throw EngineError.badArgument("KESTREL_INDEX_MEMORY", "must be a positive whole number of bytes (e.g. 4000000000), got \"\(env)\"")
            }
            return n
        }
    }

    /// The factory string the catalog's spec means at the store's current size.
    public func plannedFactory(spec: String? = nil) throws -> String {
        let n = try store.count
        let s = spec ?? indexSpec
        return s == "auto"
            ? IndexPlanner.plan(count: n, dimension: store.identity.dimension, memoryBudget: try Catalog.indexMemoryBudget).factory
            : try IndexPlanner.resolve(factory: s, count: max(n, 1), dimension: store.identity.dimension).factory
    }

    /// Whether the index type the spec asks for at this size differs from the one built.
    /// An IVF index is rebuilt only when its list count is off by more than 2x from the plan,
    /// not on every ingest that changes the planned count a little.
    public func needsRebuild() throws -> Bool {
        guard index.isTrained else { return true }
        let planned = try plannedFactory()
        if planned == index.factory { return false }
        func lists(_ f: String) -> (Int, String)? {
            guard f.hasPrefix("IVF"), let comma = f.firstIndex(of: ","), let n = Int(f.dropFirst(3)[..<comma]) else { return nil }
            return (n, String(f[comma...]))
        }
        if let (a, restA) = lists(planned), let (b, restB) = lists(index.factory), restA == restB {
            return a > 2 * b || b > 2 * a
        }
        return true
    }

    public struct RebuildReport: Sendable {
        public var factory: String
        public var items: Int
        public var seconds: Double
        public var tuning: String?
    }

    /// Rebuilds the index from the store's vectors: chooses the type, trains it when it needs
    /// training, adds every vector, tunes nprobe / efSearch to the recall target, saves atomically.
    @discardableResult
    public func rebuildIndex(spec: String? = nil, recallTarget: Double? = nil) throws -> RebuildReport {
        let t0 = Date()
        // Checked before anything is written, so a refused value leaves the catalog as it was.
        if let recallTarget { try IndexTuner.checkRecallTarget(recallTarget) }
        if let spec { _ = try plannedFactory(spec: spec) }
        if let spec { try store.setMeta(key: MetaKey.indexSpec, value: Data(spec.utf8)) }
        if let recallTarget { try store.setMeta(key: MetaKey.recallTarget, value: Data(String(recallTarget).utf8)) }
        let covered = try store.lastSequence
        let (ids, values) = try store.allVectors()
        let factory = try plannedFactory()
        let fresh = try VectorIndex.create(dimension: store.identity.dimension, factory: factory, expectedCount: ids.count)
        if !fresh.isTrained {
            guard !ids.isEmpty else {
                // Nothing to train on yet: keep a flat index until there is.
                index = try VectorIndex.create(dimension: store.identity.dimension, factory: "Flat")
                index.coveredSequence = covered
                if lock != nil { try saveIndex() }
                return RebuildReport(factory: "Flat", items: 0, seconds: Date().timeIntervalSince(t0), tuning: nil)
            }
            try fresh.train(sampleFrom: values, count: ids.count)
        }
        if !ids.isEmpty { try fresh.add(ids: ids.map { Int64($0) }, vectors: values) }
        var tuning: String?
        if fresh.kind != .flat, ids.count > 10 {
            let result = try fresh.tune(recallTarget: self.recallTarget, reference: (ids.map { Int64($0) }, values))
            tuning = "\(result)"
        }
        fresh.coveredSequence = covered
        index = fresh
        if lock != nil { try saveIndex() }
        return RebuildReport(factory: factory, items: ids.count, seconds: Date().timeIntervalSince(t0), tuning: tuning)
    }
}

/// An exclusive advisory lock on an index folder, so two writers never interleave.
final class WriterLock: @unchecked Sendable {
    private let fd: Int32

    init(_ dir: URL) throws {
        let path = dir.appendingPathComponent(".lock").path
        fd = open(path, O_CREAT | O_RDWR, 0o644)
        guard fd >= 0 else { throw EngineError.lockFailed(dir.path, String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw EngineError.lockFailed(dir.path, "another kestrel process is writing to this index; wait for it to finish")
        }
    }

    deinit { flock(fd, LOCK_UN); close(fd) }
}

extension VectorIndex {
    /// "efSearch=64 (recall@10 0.97 ...)" for the CLI, nil for exact indexes.
    public var searchParameterSummary: String? {
        if let tuning { return tuning.parameter == "none" ? nil : "\(tuning)" }
        let p = searchParameters
        if let e = p.efSearch { return "efSearch=\(e) (untuned)" }
        if let n = p.nprobe { return "nprobe=\(n) (untuned)" }
        return nil
    }
}
