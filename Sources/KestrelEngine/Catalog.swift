import Foundation
import KestrelImage
import KestrelKernels
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
/// between a store write and an index save loses nothing. An index file that does not belong
/// to the store (another store's id, a sequence the store never reached, another dimension, a
/// count that disagrees with the store, an older file format, damage) is rebuilt from the store,
/// with a warning through `warn`.
///
/// One catalog may be shared between threads: searches run concurrently, and the index object
/// they use is swapped under a lock when a rebuild replaces it. Changes (catch-up, ingest,
/// rebuild, save) are serialised among themselves.
public final class Catalog: @unchecked Sendable {
    /// The index folder, as bytes (need not be UTF-8).
    public let location: FilePathBytes
    /// `location` as a file URL, for display (a name that is not UTF-8 shows U+FFFD here).
    public var directory: URL { URL(fileURLWithPath: location.lossyString) }
    public let store: Store
    /// The current index. A rebuild replaces it; callers that need one index across several
    /// calls should read this once and keep the reference.
    public var index: VectorIndex { state.withLock { current } }
    /// False when opened for reading: nothing is saved, and the store is opened read-only.
    public var isWritable: Bool { lock != nil }
    /// Where warnings go (an index file rebuilt, a tuning redone...). Library code never
    /// writes to stderr itself.
    public let warn: @Sendable (String) -> Void

    private var current: VectorIndex
    /// The index type this run asked for (`openForWriting(indexSpec:)`): it is written to the
    /// store only once an index of that type has been built, so a type that cannot be built is
    /// never remembered.
    private var requestedSpec: String?
    /// The index type the store records, when it can be used (see `indexSpec`).
    private var storedSpec: String?
    /// The store records a type that cannot be used: the next successful build clears the record.
    private var storedSpecIsUnusable = false
    /// Extra tuning queries (row-major, `store.identity.dimension` floats each; see `setTuningQueries`).
    private var extraTuningQueries: [Float] = []
    /// The index file as it was when this catalog last read it or decided not to (nil: there
    /// was none); `refresh` loads it again only when it changes.
    private var seenIndexFile: FileStatus?
    private let state = NSLock()
    /// Serialises changes to the index (catch-up, adds, removals, rebuild, save).
    private let changes = NSRecursiveLock()
    private let lock: WriterLock?

    public static func indexURL(_ dir: URL) -> URL { dir.appendingPathComponent("index.faiss") }
    public static func storePath(_ dir: FilePathBytes) -> FilePathBytes { dir.appending(Array("store".utf8)) }
    public static func indexPath(_ dir: FilePathBytes) -> FilePathBytes { dir.appending(Array("index.faiss".utf8)) }
    public static func reportPath(_ dir: FilePathBytes) -> FilePathBytes { dir.appending(Array("ingest-report.json".utf8)) }

    enum MetaKey {
        static let modelPath = "kestrel.model_path"
        static let indexSpec = "kestrel.index_spec"
        static let recallTarget = "kestrel.recall_target"
        /// The `--orientation` setting that made the stored image vectors ("exif" or "ignore").
        static let orientation = "kestrel.orientation"
        /// The precision the stored image vectors were made at ("fp32", "bf16", "int8": the one
        /// the model actually ran, `CLIPModel.precision`). Absent: made before it was recorded, fp32.
        static let precision = "kestrel.precision"
        /// The `--jpeg-decode` setting that made the stored image vectors ("exact" or "fast");
        /// absent in catalogs made before the setting existed.
        static let jpegDecoding = "kestrel.jpeg_decode"
        /// Caller-supplied tuning queries (see `setTuningQueries`): float32 little-endian rows.
        static let tuningQueries = "kestrel.tuning_queries"
    }

    public static func exists(_ dir: URL) -> Bool { exists(FilePathBytes(dir.path)) }

    public static func exists(_ dir: FilePathBytes) -> Bool {
        FileSystem.exists(storePath(dir).appending(Array("data.mdb".utf8)))
    }

    /// Throws `EngineError.badStoreFolder` when `DIR/store` is there but cannot be a store: a
    /// file (or FIFO...) in its place, or a folder of LMDB files without its data.mdb.
    /// A `dir` that is not a folder is `FileError.notDirectory` ("is a regular file, not a folder").
    static func checkStoreFolder(_ dir: FilePathBytes) throws {
        if let kind = try? FileSystem.status(dir).kind, kind != .directory { throw FileError.notDirectory(path: dir, kind: kind) }
        let folder = storePath(dir)
        guard let kind = try? FileSystem.status(folder).kind else { return }
        guard kind == .directory else { throw EngineError.badStoreFolder(folder.description, "is \(kind.phrase), not a store folder") }
        let names = (try? FileSystem.listDirectory(folder)) ?? []
        if !names.contains(Array("data.mdb".utf8)) && names.contains(Array("lock.mdb".utf8)) {
            throw EngineError.badStoreFolder(folder.description, "holds no data.mdb (the file with the store's items and vectors)")
        }
        // An empty environment is what an interrupted creation leaves, and is replaced; but an
        // index file is saved only after the store has committed, so beside one it is a store
        // that lost its data (a data.mdb cut to nothing), never to be replaced silently.
        if Store.isEmptyEnvironment(at: folder), FileSystem.exists(indexPath(dir)) {
            throw EngineError.badStoreFolder(folder.description, "holds an empty data.mdb, though \(indexPath(dir).description) was built from a store that held data: the store's data is lost")
        }
    }

    /// Opens the catalog in `dir`, creating it for `identity` when there is none. A catalog made by
    /// another model is refused (the store's error names both models). Creation is atomic: a
    /// store left half-made by a crash (an empty LMDB environment, a temporary folder) is
    /// replaced.
    /// `orientation` is how the caller's embedder treats EXIF orientation: it is recorded in a new
    /// catalog, and an existing catalog whose vectors were made with the other setting is refused
    /// (`EngineError.orientationMismatch`), so one index never mixes the two. `precision` (the
    /// precision the embedder's model actually runs, `CLIPModel.precision`) is recorded and
    /// checked the same way (`EngineError.precisionMismatch`).
    /// `jpegDecoding` (how the caller's embedder decodes JPEGs) is recorded in a new catalog, or
    /// in an empty one that has no record; `Ingestor.run` refuses to mix the two settings.
    public static func openForWriting(_ dir: URL, identity: ModelIdentity, modelPath: String,
                                      orientation: OrientationHandling, precision: Precision = .fp32,
                                      jpegDecoding: JPEGDecoding? = nil,
                                      vectorStorage: VectorStorage = .float32, indexSpec: String? = nil,
                                      warn: @escaping @Sendable (String) -> Void = { _ in }) throws -> Catalog {
        try openForWriting(FilePathBytes(dir.path), identity: identity, modelPath: modelPath, orientation: orientation,
                           precision: precision, jpegDecoding: jpegDecoding, vectorStorage: vectorStorage,
                           indexSpec: indexSpec, warn: warn)
    }

    /// `openForWriting` for a folder named by bytes (the name need not be UTF-8).
    public static func openForWriting(_ dir: FilePathBytes, identity: ModelIdentity, modelPath: String,
                                      orientation: OrientationHandling, precision: Precision = .fp32,
                                      jpegDecoding: JPEGDecoding? = nil,
                                      vectorStorage: VectorStorage = .float32, indexSpec: String? = nil,
                                      warn: @escaping @Sendable (String) -> Void = { _ in }) throws -> Catalog {
        if let indexSpec { try VectorIndex.checkFactory(indexSpec, dimension: identity.dimension) }
        try FileSystem.makeDirectories(dir)
        try checkStoreFolder(dir)
        let lock = try WriterLock(dir)
        let url = storePath(dir)
        Store.removeUnfinishedCreations(of: url)
        let store: Store
        if exists(dir) && !Store.isEmptyEnvironment(at: url) {
            store = try Store.open(at: url)
            try store.requireIdentity(identity)
            // A store without the record and without items holds no vectors to disagree with (a
            // run killed between creating the store and recording the setting): it takes this one.
            if try store.meta(key: MetaKey.orientation) == nil, try store.count == 0 {
                try store.setMeta(key: MetaKey.orientation, value: Data(orientation.rawValue.utf8))
            }
            try requireOrientation(orientation, recorded: recordedOrientation(store), dir: dir)
            if try store.meta(key: MetaKey.precision) == nil, try store.count == 0 {
                try store.setMeta(key: MetaKey.precision, value: Data(precision.rawValue.utf8))
            }
            try requirePrecision(precision, recorded: recordedPrecision(store), dir: dir)
            if let jpegDecoding, try store.meta(key: MetaKey.jpegDecoding) == nil, try store.count == 0 {
                try store.setMeta(key: MetaKey.jpegDecoding, value: Data(jpegDecoding.rawValue.utf8))
            }
        } else {
            store = try Store.create(at: url, identity: identity, vectorStorage: vectorStorage)
            try store.setMeta(key: MetaKey.orientation, value: Data(orientation.rawValue.utf8))
            try store.setMeta(key: MetaKey.precision, value: Data(precision.rawValue.utf8))
            if let jpegDecoding { try store.setMeta(key: MetaKey.jpegDecoding, value: Data(jpegDecoding.rawValue.utf8)) }
        }
        try store.setMeta(key: MetaKey.modelPath, value: Data(modelPath.utf8))
        let catalog = try Catalog(dir, store: store, lock: lock, loadIndex: true, warn: warn)
        // Set after the index is loaded: a rebuild at open (a damaged index file) keeps the type in place.
        catalog.state.withLock { catalog.requestedSpec = indexSpec?.trimmingCharacters(in: .whitespaces) }
        return catalog
    }

    /// Opens an existing catalog. Without `writable` (search, stats, list) the store is opened
    /// read-only, no lock is taken and nothing is written, so a read-only folder works.
    /// `writable` takes the writer lock. With `loadIndex: false` the index file is not read at
    /// all (for a rebuild, which must not depend on it): the catalog starts with an empty index.
    public static func open(_ dir: URL, writable: Bool = false, loadIndex: Bool = true,
                            warn: @escaping @Sendable (String) -> Void = { _ in }) throws -> Catalog {
        try open(FilePathBytes(dir.path), writable: writable, loadIndex: loadIndex, warn: warn)
    }

    /// `open` for a folder named by bytes (the name need not be UTF-8).
    public static func open(_ dir: FilePathBytes, writable: Bool = false, loadIndex: Bool = true,
                            warn: @escaping @Sendable (String) -> Void = { _ in }) throws -> Catalog {
        try checkStoreFolder(dir)
        // A store left empty by a crash while it was being created holds nothing yet.
        guard exists(dir), !Store.isEmptyEnvironment(at: storePath(dir)) else { throw EngineError.noCatalog(dir.description) }
        let lock = writable ? try WriterLock(dir) : nil
        let store = try Store.open(at: storePath(dir), readOnly: !writable)
        return try Catalog(dir, store: store, lock: lock, loadIndex: loadIndex, warn: warn)
    }

    private init(_ dir: FilePathBytes, store: Store, lock: WriterLock?, loadIndex: Bool,
                 warn: @escaping @Sendable (String) -> Void) throws {
        location = dir
        self.store = store
        self.lock = lock
        self.warn = warn
        try Catalog.checkMetaRecords(store)
        current = try VectorIndex.create(dimension: store.identity.dimension, factory: "Flat")
        // Only a writer can act on the warning (and clears the record at its next build).
        storedSpec = Catalog.usableSpec(store, warn: lock != nil ? warn : { _ in })
        storedSpecIsUnusable = storedSpec == nil && ((try? store.meta(key: MetaKey.indexSpec)) ?? nil) != nil
        extraTuningQueries = Catalog.recordedTuningQueries(store)
        let url = Catalog.indexPath(dir)
        guard loadIndex else { return }
        // Taken before the file is read: a file replaced after this is seen as new by `refresh`.
        seenIndexFile = try? FileSystem.status(url)
        guard FileSystem.exists(url) else {
            try catchUp()
            return
        }
        if let kind = try? FileSystem.status(url).kind, kind != .regular {
            // Say what is there (a folder, a FIFO, /dev/zero...), not that a file is damaged.
            warn("\(url) is \(kind.phrase), not an index file; rebuilding the index from the store")
            try rebuildIndex()
            return
        }
        let loaded: VectorIndex
        do {
            loaded = try VectorIndex.load(from: url)
        } catch let error as IndexError {
            // Derived data: a damaged or outdated index is rebuilt from the store, never trusted.
            warn("\(error.reason); rebuilding it from the store")
            try rebuildIndex()
            return
        }
        if let problem = try mismatch(loaded) {
            warn("\(url) does not belong to this store (\(problem)); rebuilding it from the store")
            try rebuildIndex()
            return
        }
        current = loaded
        do {
            try catchUp()
        } catch let error as IndexError {
            warn("\(url) cannot apply the store's changes (\(error.reason)); rebuilding it from the store")
            try rebuildIndex()
            return
        }
        let stored = try store.count, indexed = index.count
        if indexed != stored {
            warn("\(url) holds \(indexed) vectors after catching up, the store \(stored) items; rebuilding it from the store")
            try rebuildIndex()
        }
    }

    /// Why `loaded` cannot be the index of this store, or nil when it can.
    private func mismatch(_ loaded: VectorIndex) throws -> String? {
        guard let storeID = store.storeID else {
            return "the store was made before stores had ids, and is open read-only, so it cannot be given one"
        }
        guard let indexStore = loaded.storeID else { return "the index records no store id" }
        if indexStore != storeID { return "it was built from store \(indexStore), this store is \(storeID)" }
        if loaded.dimension != store.identity.dimension {
            return "dimension \(loaded.dimension), the store holds \(store.identity.dimension)"
        }
        let last = try store.lastSequence
        if loaded.coveredSequence > last {
            return "it covers the store's changes up to \(loaded.coveredSequence), the store has only \(last)"
        }
        // Same store id and a sequence this store reached, but another history: a copy of the
        // store that took other changes (its ids name other images here).
        if loaded.storeLogChain != (try store.logChain(at: loaded.coveredSequence)) {
            return "it was built from a copy of this store whose changes up to \(loaded.coveredSequence) differ from this store's"
        }
        return nil
    }

    /// Reads the catalog's records in the store's meta area once, with every error: the
    /// accessors below (`modelPath`, `orientation`...) then never turn a damaged store into a
    /// missing record ("the index does not record its model") or a default setting.
    static func checkMetaRecords(_ store: Store) throws {
        for key in [MetaKey.modelPath, MetaKey.indexSpec, MetaKey.recallTarget, MetaKey.orientation, MetaKey.precision,
                    MetaKey.jpegDecoding] {
            guard let value = try store.meta(key: key) else { continue }
            guard let text = String(data: value, encoding: .utf8), !text.isEmpty else {
                throw StoreError.corrupt(store: store.location.description, detail: "the record \(key) is not UTF-8 text")
            }
            if key == MetaKey.orientation && OrientationHandling(rawValue: text) == nil
                || key == MetaKey.jpegDecoding && JPEGDecoding(rawValue: text) == nil {
                throw StoreError.corrupt(store: store.location.description, detail: "the record \(key) holds an unknown setting")
            }
            if key == MetaKey.precision, Precision(rawValue: text) == nil {
                throw StoreError.corrupt(store: store.location.description, detail: "the record \(key) holds an unknown precision")
            }
        }
    }

    /// A text value from the store's meta area (nil when absent; `checkMetaRecords` found it
    /// readable at open).
    private func metaString(_ key: String) -> String? {
        ((try? store.meta(key: key)) ?? nil).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The `--orientation` setting the stored image vectors were made with. A catalog made before
    /// the setting was recorded holds vectors of images used as stored: `.ignore`.
    public var orientation: OrientationHandling { Catalog.recordedOrientation(store) }

    /// Throws `EngineError.orientationMismatch` unless image vectors made with `orientation`
    /// (an `index add`, a `search --image` query) compare with the stored ones.
    public func requireOrientation(_ orientation: OrientationHandling) throws {
        try Catalog.requireOrientation(orientation, recorded: self.orientation, dir: location)
    }

    static func recordedOrientation(_ store: Store) -> OrientationHandling {
        guard let data = (try? store.meta(key: MetaKey.orientation)) ?? nil else { return .ignore }
        return OrientationHandling(rawValue: String(decoding: data, as: UTF8.self)) ?? .ignore
    }

    static func requireOrientation(_ wanted: OrientationHandling, recorded: OrientationHandling, dir: FilePathBytes) throws {
        guard wanted == recorded else { throw EngineError.orientationMismatch(index: dir.description, recorded: recorded, requested: wanted) }
    }

    /// The precision the stored image vectors were made at. A catalog made before the precision
    /// was recorded holds fp32 vectors. Queries (`search`) may be embedded at any precision: a
    /// reduced-precision query vector is within about 0.001 in cosine of its fp32 twin.
    public var precision: Precision { Catalog.recordedPrecision(store) }

    /// Throws `EngineError.precisionMismatch` unless image vectors made at `precision` may join
    /// the stored ones (an `index add`).
    public func requirePrecision(_ precision: Precision) throws {
        try Catalog.requirePrecision(precision, recorded: self.precision, dir: location)
    }

    static func recordedPrecision(_ store: Store) -> Precision {
        guard let data = (try? store.meta(key: MetaKey.precision)) ?? nil else { return .fp32 }
        return Precision(rawValue: String(decoding: data, as: UTF8.self)) ?? .fp32
    }

    static func requirePrecision(_ wanted: Precision, recorded: Precision, dir: FilePathBytes) throws {
        guard wanted == recorded else { throw EngineError.precisionMismatch(index: dir.description, recorded: recorded, requested: wanted) }
    }

    /// The `--jpeg-decode` setting the stored image vectors were made with. A catalog that holds
    /// vectors but no record was made before the setting existed, when every JPEG was decoded in
    /// full: `.exact`. nil only for an empty catalog without a record (either may join it).
    public var jpegDecoding: JPEGDecoding? {
        if let recorded = metaString(MetaKey.jpegDecoding).flatMap(JPEGDecoding.init(rawValue:)) { return recorded }
        return ((try? store.count) ?? 0) > 0 ? .exact : nil
    }

    /// Throws `EngineError.jpegDecodingMismatch` when the catalog's vectors were made with the other
    /// setting. An empty catalog without a record (a library caller that passed none to
    /// `openForWriting`) records `wanted` now, before the first vectors are added, so that it is not
    /// later taken for an old index of exact vectors.
    public func requireJPEGDecoding(_ wanted: JPEGDecoding) throws {
        if metaString(MetaKey.jpegDecoding) == nil, try store.count == 0 {
            try store.setMeta(key: MetaKey.jpegDecoding, value: Data(wanted.rawValue.utf8))
            return
        }
        if let recorded = jpegDecoding, recorded != wanted {
            throw EngineError.jpegDecodingMismatch(index: location.description, recorded: recorded, requested: wanted)
        }
    }

    /// The model folder the catalog was built with.
    public var modelPath: String? { metaString(MetaKey.modelPath) }

    /// The index type in use: the one this run asked for, else the one the store records, else
    /// "auto". A recorded type that cannot be built here (written by an older build that saved
    /// the type before building it: one FAISS cannot parse, or Kestrel cannot search) is
    /// reported through `warn` once, at open, and "auto" is used instead.
    public var indexSpec: String { state.withLock { requestedSpec ?? storedSpec } ?? "auto" }

    /// The store's recorded index type if it can be used, else nil (with a warning).
    private static func usableSpec(_ store: Store, warn: (String) -> Void) -> String? {
        guard let data = (try? store.meta(key: MetaKey.indexSpec)) ?? nil else { return nil }
        let spec = String(decoding: data, as: UTF8.self)
        do {
            try VectorIndex.checkFactory(spec, dimension: store.identity.dimension)
            return spec
        } catch let error as IndexError {
            let reason: String
            if case .unknownFactory(_, let why) = error { reason = why } else { reason = error.reason }
            warn("the index type recorded in this index, '\(PathText.escape(Array(spec.utf8)))', cannot be used (\(reason));"
                 + " using the automatic choice (pass --index-type to choose another)")
            return nil
        } catch {
            return nil
        }
    }

    /// The recall@10 target tuning aims for (0.95 unless set; a stored value outside (0, 1],
    /// which older versions could write for `--recall nan`, counts as unset).
    public var recallTarget: Double {
        guard let stored = metaString(MetaKey.recallTarget).flatMap(Double.init), stored > 0, stored <= 1 else { return 0.95 }
        return stored
    }

    /// Applies the store's changes since the index was last saved. Returns how many were applied.
    /// A writable catalog saves the index afterwards; a read-only one changes nothing on disk (the
    /// changes live in memory only).
    @discardableResult
    public func catchUp() throws -> Int {
        try changes.withLock {
            let index = self.index
            let log = try store.changes(since: index.coveredSequence)
            guard !log.isEmpty else { return 0 }
            if !index.isTrained { try rebuildIndex(); return log.count }
            try apply(log, to: index)
            if lock != nil { try saveIndex() }
            return log.count
        }
    }

    /// Applies `log` (changes read from the store, oldest first) to `index`, which must be trained.
    private func apply(_ log: [Change], to index: VectorIndex) throws {
        guard let newest = log.last else { return }
        var added: [Int64] = [], vectors: [Float] = [], removed: [Int64] = []
        // Net effect per id: the last change wins.
        var last: [UInt64: Change.Kind] = [:]
        for c in log { last[c.id] = c.kind }
        for (id, kind) in last.sorted(by: { $0.key < $1.key }) {
            // A present id is removed first; if it is still stored it is re-added below.
            if index.contains(Int64(id)) { removed.append(Int64(id)) }
            if kind == .removed { continue }
            if let v = try store.vector(id: id) { added.append(Int64(id)); vectors += v }
        }
        if !removed.isEmpty { try index.remove(ids: removed) }
        // An HNSW index cannot be trained as it grows; past the planner's thresholds a
        // rebuild (at the end of an ingest) moves it to the planned type.
        if !added.isEmpty { try index.add(ids: added, vectors: vectors) }
        // What was read, not the store's latest: a writer sharing this catalog may have logged more since.
        index.coveredSequence = newest.sequence
    }

    /// What `refresh` did.
    public enum Refresh: Sendable, Equatable {
        /// Nothing had changed.
        case unchanged
        /// This many entries of the store's change log were applied to the index in memory.
        case caughtUp(changes: Int)
        /// The index file had been replaced by one of another build (a rebuild by another
        /// process: another type, factory or tuning): it was loaded, caught up from the change
        /// log and swapped in. `factory` is the new index's.
        case reloaded(factory: String)
    }

    /// Takes in what another process wrote, for a catalog opened read-only beside a writer (a
    /// server while `kestrel index add`, `remove` or `rebuild` runs): the store's newer changes
    /// are applied to the index in memory (`catchUp`), and when `index.faiss` was replaced by a
    /// build this index is not (another factory, tuning or search parameters in its header: a
    /// rebuild), the new file is loaded outside any lock, caught up from the log, and swapped
    /// in under the catalog's lock; searches keep using the old index object until the swap.
    /// Nothing is written. A replaced file that cannot be used (damaged, or another store's) is
    /// reported once through `warn`, and the index in memory goes on following the log.
    /// A writable catalog owns the file: for it this is `catchUp`.
    /// Throws store errors (`StoreError`) and index errors while applying changes.
    @discardableResult
    public func refresh() throws -> Refresh {
        if lock == nil, let replaced = try replacedIndexFile() { return replaced }
        let n = try catchUp()
        return n == 0 ? .unchanged : .caughtUp(changes: n)
    }

    /// For `refresh`: loads and swaps in `index.faiss` when it was replaced by another build;
    /// nil when there was nothing to load.
    private func replacedIndexFile() throws -> Refresh? {
        let url = Catalog.indexPath(location)
        guard let stamp = try? FileSystem.status(url), stamp != state.withLock({ seenIndexFile }) else { return nil }
        // The type recorded with the store may have changed with the file (`rebuild --index-type`).
        let spec = Catalog.usableSpec(store, warn: { _ in })
        state.withLock {
            seenIndexFile = stamp
            storedSpec = spec
        }
        let current = index
        guard let info = try? VectorIndex.inspect(at: url) else {
            warn("\(url) was replaced by a file that cannot be read as an index; searching the index in memory, caught up from the store")
            return nil
        }
        // The same build saved again (after an `index add`): the log brings the same changes.
        guard info.factory != current.factory || info.tuning != current.tuning
            || info.searchParameters != current.searchParameters || info.storeID != current.storeID else { return nil }
        let loaded: VectorIndex
        do {
            loaded = try VectorIndex.load(from: url)
        } catch let error as IndexError {
            warn("\(error.reason); searching the index in memory, caught up from the store")
            return nil
        }
        return try changes.withLock { () -> Refresh? in
            if let problem = try mismatch(loaded) {
                warn("\(url) was replaced by a file that does not belong to this store (\(problem)); searching the index in memory, caught up from the store")
                return nil
            }
            guard loaded.isTrained else { return nil }
            try apply(try store.changes(since: loaded.coveredSequence), to: loaded)
            state.withLock { self.current = loaded }
            return .reloaded(factory: loaded.factory)
        }
    }

    /// Adds freshly stored items to the index (the store already holds them); the index is saved
    /// by the caller from time to time, and at worst caught up from the log at the next open.
    /// An index that is not trained yet (an approximate type with nothing to train on) cannot
    /// take vectors: it is built from the store instead (`catchUp`), so that it covers them.
    public func indexAdded(ids: [UInt64], vectors: [Float], coveredSequence: UInt64) throws {
        try changes.withLock {
            let index = self.index
            guard index.isTrained else {
                try catchUp()
                return
            }
            if !ids.isEmpty { try index.add(ids: ids.map { Int64($0) }, vectors: vectors) }
            index.coveredSequence = coveredSequence
        }
    }

    public func indexRemoved(ids: [UInt64], coveredSequence: UInt64) throws {
        try changes.withLock {
            let index = self.index
            let present = ids.map { Int64($0) }.filter { index.contains($0) }
            if !present.isEmpty { try index.remove(ids: present) }
            if index.isTrained { index.coveredSequence = coveredSequence }
        }
    }

    /// Removes `paths` from the store, then the items left with no path from the index, as one
    /// step for other users of this catalog (`index remove`, `--prune`). Returns the removed ids.
    @discardableResult
    public func remove(paths: [FilePathBytes]) throws -> [UInt64] {
        try changes.withLock {
            let removed = try store.removePaths(paths)
            try indexRemoved(ids: removed, coveredSequence: try store.lastSequence)
            return removed
        }
    }

    /// The stored paths that are `root` or lie under the folder `root`, compared bytewise
    /// (`café` in NFC is not `café` in NFD). One read transaction.
    public func storedPaths(under root: FilePathBytes) throws -> [FilePathBytes] {
        try store.paths(withPrefix: root).map(\.path).filter { $0.isUnder(root) }
    }

    /// Writes the index atomically (temporary file, fsync, rename), stamped with the store's
    /// id. An approximate index that has grown or shrunk past a factor of 2 since it was tuned
    /// is tuned again first, so its search parameters and reported recall stay current.
    public func saveIndex() throws {
        guard lock != nil else { throw EngineError.readOnlyCatalog(location.description) }
        try changes.withLock {
            // The type this run asked for is the one in place (no rebuild needed): remember it.
            if let requested = state.withLock({ requestedSpec }), index.isTrained, try !needsRebuild() {
                try remember(spec: requested)
            }
            try retuneIfStale()
            let index = self.index
            index.storeID = store.storeID
            index.storeLogChain = try store.logChain(at: index.coveredSequence)
            try index.save(to: Catalog.indexPath(location))
        }
    }

    /// Whether the index's tuning no longer describes it (see `saveIndex`): it has grown or
    /// shrunk past a factor of 2, or it was tuned without the caller's tuning queries.
    public var tuningIsStale: Bool {
        let index = self.index
        guard index.kind != .flat else { return false }
        let n = index.count
        guard n > Catalog.minimumTunedCount else { return false }
        guard let tuning = index.tuning else { return true }
        if !tuningQueries.isEmpty, tuning.callerQueries == nil { return true }
        return tuning.isStale(count: n)
    }

    /// The caller's tuning queries in use (row-major; empty: none). See `setTuningQueries`.
    public var tuningQueries: [Float] { state.withLock { extraTuningQueries } }

    /// Most caller tuning queries kept (a few dozen are enough; each costs one search per setting tried).
    public static let maxTuningQueries = 256

    /// Sets query vectors that tuning measures besides its own sample queries: a caller that
    /// knows what real queries look like (the engine: embeddings of generic text prompts, which
    /// land apart from the image vectors) passes a few dozen, and nprobe / efSearch are then
    /// chosen so that they too reach the recall target. The catalog only sees vectors.
    /// Recorded in the store (when open for writing) so later tunings without the caller (an
    /// `index remove`, a rebuild) use them too. Throws `EngineError.badArgument` unless
    /// `vectors` holds whole rows of the store's dimension, at most `maxTuningQueries`, all finite.
    public func setTuningQueries(_ vectors: [Float]) throws {
        let d = store.identity.dimension
        guard vectors.count % d == 0, vectors.count / d <= Catalog.maxTuningQueries, vectors.allSatisfy(\.isFinite) else {
            throw EngineError.badArgument("tuning queries", "must be up to \(Catalog.maxTuningQueries) finite rows of \(d) floats, got \(vectors.count) floats")
        }
        guard vectors != tuningQueries else { return }
        if lock != nil {
            var bytes = [UInt8]()
            bytes.reserveCapacity(vectors.count * 4)
            for v in vectors { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
            try store.setMeta(key: MetaKey.tuningQueries, value: vectors.isEmpty ? nil : Data(bytes))
        }
        state.withLock { extraTuningQueries = vectors }
    }

    /// The recorded tuning queries, or none when absent or not whole finite rows.
    private static func recordedTuningQueries(_ store: Store) -> [Float] {
        guard let data = (try? store.meta(key: MetaKey.tuningQueries)) ?? nil else { return [] }
        let d = store.identity.dimension
        guard data.count % (4 * d) == 0, data.count / (4 * d) <= maxTuningQueries else { return [] }
        let bytes = [UInt8](data)
        let values = stride(from: 0, to: bytes.count, by: 4).map { i in
            Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
        return values.allSatisfy(\.isFinite) ? values : []
    }

    /// Below this many vectors an approximate index keeps its default search parameters.
    static let minimumTunedCount = 10

    private func retuneIfStale() throws {
        guard tuningIsStale else { return }
        let index = self.index
        let (ids, values) = try store.allVectors()
        let live = Set(index.ids)
        // Tune on what the index holds (the store may be ahead of it between saves).
        var refIDs: [Int64] = [], refValues: [Float] = []
        let d = store.identity.dimension
        for (row, id) in ids.enumerated() where live.contains(Int64(id)) {
            refIDs.append(Int64(id))
            refValues += values[(row * d)..<((row + 1) * d)]
        }
        guard refIDs.count > Catalog.minimumTunedCount else { return }
        try index.tune(recallTarget: recallTarget, reference: (refIDs, refValues), extraQueries: tuningQueries)
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

    /// Writes `spec` as the catalog's index type (an index of that type is in place).
    private func remember(spec: String) throws {
        try store.setMeta(key: MetaKey.indexSpec, value: Data(spec.utf8))
        storedSpecIsUnusable = false
        state.withLock {
            storedSpec = spec
            requestedSpec = nil
        }
    }

    /// Throws unless an index of `spec` can be built over the store as it is now: the string is
    /// a supported type FAISS makes at the store's dimension (`IndexError.unknownFactory`) and
    /// the store holds enough vectors to train it (`EngineError.tooFewVectorsToTrain`).
    /// Nothing is built or written.
    public func checkIndexType(_ spec: String) throws {
        let d = store.identity.dimension
        try VectorIndex.checkFactory(spec, dimension: d)
        let n = try store.count
        let factory = try plannedFactory(spec: spec)
        let need = IndexPlanner.minimumTrainingCount(factory: factory)
        if n < need { throw EngineError.tooFewVectorsToTrain(spec: spec, factory: factory, need: need, have: n) }
    }

    /// Rebuilds the index from the store's vectors: chooses the type, trains it when it needs
    /// training, adds every vector, runs one search, tunes nprobe / efSearch to the recall target,
    /// saves atomically. Never reads the old index file. Searches keep using the old index until
    /// the new one is swapped in.
    ///
    /// The type is `spec`, else the one this run asked for at open, else the recorded one, else
    /// the automatic choice. A type asked for (`spec` or at open) that cannot be built (too few
    /// vectors to train: `EngineError.tooFewVectorsToTrain`; FAISS refusing to train, fill or
    /// search it: `EngineError.indexTypeFailed`) leaves the index in place and the recorded type
    /// as they were; it is recorded only after it was built and searched. A recorded type that
    /// needs more vectors than the store now holds (after removals) gives a warning and the
    /// automatic choice.
    @discardableResult
    public func rebuildIndex(spec: String? = nil, recallTarget: Double? = nil) throws -> RebuildReport {
        try changes.withLock {
            let t0 = Date()
            // Checked before anything is written, so a refused value leaves the catalog as it was.
            if let recallTarget { try IndexTuner.checkRecallTarget(recallTarget) }
            let asked = spec?.trimmingCharacters(in: .whitespaces) ?? state.withLock { requestedSpec }
            do {
                if let asked { try checkIndexType(asked) }
            } catch {
                state.withLock { requestedSpec = nil }
                if lock != nil { try? saveIndex() }  // the index in place, caught up by the caller
                throw error
            }
            if let recallTarget { try store.setMeta(key: MetaKey.recallTarget, value: Data(String(recallTarget).utf8)) }
            let covered = try store.lastSequence
            let (ids, values) = try store.allVectors()
            var chosen = asked ?? indexSpec
            var factory = try plannedFactory(spec: chosen)
            let need = IndexPlanner.minimumTrainingCount(factory: factory)
            if asked == nil, chosen != "auto", !ids.isEmpty, ids.count < need {
                warn("the index type recorded in this index, '\(chosen)', gives \(factory), which needs at least \(need) vectors to train;"
                     + " the store holds \(ids.count), so the automatic choice is built until it holds \(need)"
                     + " (pass --index-type to choose another)")
                chosen = "auto"
                factory = try plannedFactory(spec: chosen)
            }
            let fresh = try VectorIndex.create(dimension: store.identity.dimension, factory: factory, expectedCount: ids.count)
            fresh.storeID = store.storeID
            if !fresh.isTrained {
                guard !ids.isEmpty else {
                    // Nothing to train on yet: keep a flat index until there is.
                    let flat = try VectorIndex.create(dimension: store.identity.dimension, factory: "Flat")
                    flat.coveredSequence = covered
                    flat.storeID = store.storeID
                    state.withLock { current = flat }
                    if lock != nil { try saveIndex() }
                    return RebuildReport(factory: "Flat", items: 0, seconds: Date().timeIntervalSince(t0), tuning: nil)
                }
            }
            do {
                if !fresh.isTrained { try fresh.train(sampleFrom: values, count: ids.count) }
                if !ids.isEmpty {
                    try fresh.add(ids: ids.map { Int64($0) }, vectors: values)
                    // One search before the index replaces the old one: a type that builds but
                    // cannot be searched is refused here, with nothing changed.
                    _ = try fresh.search(Array(values[0..<store.identity.dimension]), count: 1, k: 1)
                }
            } catch let e as IndexError {
                if let asked {
                    state.withLock { requestedSpec = nil }
                    if lock != nil { try? saveIndex() }  // the index in place, caught up by the caller
                    throw EngineError.indexTypeFailed(spec: asked, factory: factory, items: ids.count, reason: e.reason)
                }
                throw EngineError.indexBuildFailed(location.description, e.reason)
            }
            var tuning: String?
            if fresh.kind != .flat, ids.count > Catalog.minimumTunedCount {
                let result = try fresh.tune(recallTarget: self.recallTarget, reference: (ids.map { Int64($0) }, values),
                                            extraQueries: tuningQueries)
                tuning = "\(result)"
            }
            fresh.coveredSequence = covered
            state.withLock { current = fresh }
            if let asked {
                try remember(spec: asked)
            } else if storedSpecIsUnusable, lock != nil {
                try store.setMeta(key: MetaKey.indexSpec, value: nil)  // the warning at open has been given
                storedSpecIsUnusable = false
            }
            if lock != nil { try saveIndex() }
            return RebuildReport(factory: factory, items: ids.count, seconds: Date().timeIntervalSince(t0), tuning: tuning)
        }
    }
}
