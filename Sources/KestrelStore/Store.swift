import CLMDB
import Foundation
import KestrelFiles
#if canImport(Glibc)
import Glibc
#endif

/// The LMDB store: the source of truth of a Kestrel catalog. It keeps items (distinct file
/// contents with their paths), one vector per item, the identity of the model that made the
/// vectors, a change log for indexes, and a small key-value area for other layers.
///
/// A store is a folder (`data.mdb`, `lock.mdb`); see docs/store-format.md for the bytes.
/// Every write is one LMDB transaction: all of it is committed or none of it, and a commit is
/// on disk when it returns. Any number of threads and processes may read while one writes.
/// Open a store once per process, and share that `Store` between threads.
///
///     let store = try Store.open(at: url, requiring: model.identity)
///     // ingest, resuming: skip unchanged files, do not re-encode known bytes
///     if let known = try store.lookup(path: p), known.matches(fileSize: size, mtimeNanoseconds: mtime) { skip }
///     let hash = try SHA256.hexDigest(ofFileAt: file)
///     let vector = try store.lookup(contentHash: hash) == nil ? encode(file) : nil
///     let results = try store.add([NewItem(path: p, contentHash: hash, ..., embedding: vector)])
///     // an index catching up
///     for change in try store.changes(since: index.sequence) { ... }
public final class Store: @unchecked Sendable {
    /// 1 GiB of address space; the file grows only as data is written, and the map grows
    /// (doubling) when it fills up.
    public static let defaultMapSize = 1 << 30

    /// The store's folder, as bytes (need not be UTF-8).
    public let location: FilePathBytes
    /// `location` as a file URL, for display: a name that is not UTF-8 shows U+FFFD here; file
    /// operations use `location`.
    public var url: URL { URL(fileURLWithPath: location.lossyString) }
    public let identity: ModelIdentity
    public let vectorStorage: VectorStorage
    /// A random id (32 hex characters) made when the store was created: derived data such as an
    /// index file records it to prove which store it was built from. nil for a store made by an
    /// older Kestrel and opened read-only (a writable open gives such a store its id).
    public let storeID: String?
    /// Opened without write access: every write throws `StoreError.readOnly`.
    public var isReadOnly: Bool { env.mode != .readWrite }

    let env: Environment
    let db: Databases
    /// Set when an LMDB call faulted (SIGBUS/SIGSEGV or an LMDB assertion caught by the shim):
    /// LMDB's state in this process (its reader slots, the writer mutex, a half-done transaction)
    /// can no longer be trusted, so every later call refuses. Reopening the store starts afresh.
    private let faulted = FaultLatch()
    var storeName: String { location.description }

    struct Databases {
        let store, items, vectors, paths, hashes, log, meta: MDB_dbi
    }

    private init(
        location: FilePathBytes, env: Environment, db: Databases, identity: ModelIdentity, vectorStorage: VectorStorage, storeID: String?
    ) {
        self.location = location
        self.env = env
        self.db = db
        self.identity = identity
        self.vectorStorage = vectorStorage
        self.storeID = storeID
    }

    // MARK: - Create, open, close

    /// Creates a new store in folder `url` for vectors of `identity`, atomically: the environment
    /// is written in a temporary folder next to `url` (`.<name>.creating-<random>`) and renamed
    /// into place, so a crash leaves either no store or a whole one. `url` may exist if it is
    /// empty or holds only an environment that was never given a database (what a crash inside
    /// an older Kestrel's non-atomic creation left); such leftovers are replaced.
    public static func create(
        at url: URL, identity: ModelIdentity, vectorStorage: VectorStorage = .float32,
        initialMapSize: Int = defaultMapSize
    ) throws -> Store {
        try create(at: FilePathBytes(url.path), identity: identity, vectorStorage: vectorStorage, initialMapSize: initialMapSize)
    }

    /// `create(at:)` for a folder named by bytes.
    public static func create(
        at location: FilePathBytes, identity: ModelIdentity, vectorStorage: VectorStorage = .float32,
        initialMapSize: Int = defaultMapSize
    ) throws -> Store {
        let name = location.description
        guard identity.dimension > 0, identity.dimension <= 1 << 20 else {
            throw StoreError.invalidIdentity(store: name, reason: "dimension \(identity.dimension) is not in 1...1048576")
        }
        guard !identity.name.isEmpty else { throw StoreError.invalidIdentity(store: name, reason: "the model name is empty") }
        if FileSystem.exists(location.appending(Array("data.mdb".utf8))) {
            guard isEmptyEnvironment(at: location) else { throw StoreError.alreadyExists(store: name) }
            for file in ["data.mdb", "lock.mdb"] { try? FileSystem.removeFile(location.appending(Array(file.utf8))) }
        }
        if FileSystem.exists(location), let left = try? FileSystem.listDirectory(location), !left.isEmpty {
            let names = left.map { FilePathBytes($0) }.sorted().map(\.description)
            throw StoreError.invalidPath(store: name, path: name, reason: "the folder is not empty (it holds \(names.joined(separator: ", ")))")
        }
        let parent = location.parent
        let temp = parent.appending(Array(".".utf8) + location.lastComponent + Array(".creating-\(randomHex(8))".utf8))
        do {
            try FileSystem.makeDirectories(temp)
        } catch let e as FileError {
            throw StoreError.invalidPath(store: name, path: name, reason: "cannot create the folder: \(e.reason)")
        }
        do {
            try mapped(location) {
                let env = try Environment(path: temp, mapSize: initialMapSize, maxDatabases: 16)
                defer { env.close() }
                try env.write { txn in
                    let db = try openDatabases(env, txn, create: true)!
                    let put = { (key: String, value: [UInt8]) in try txn.put(db.store, Array(key.utf8), value) }
                    typealias K = Layout.Key
                    try put(K.magic, Layout.magic)
                    try put(K.schemaVersion, littleEndian(Layout.schemaVersion))
                    try put(K.storeID, Array(randomHex(16).utf8))
                    try put(K.modelName, Array(identity.name.utf8))
                    try put(K.modelFingerprint, Array(identity.fingerprint.utf8))
                    try put(K.dimension, littleEndian(UInt32(identity.dimension)))
                    try put(K.vectorStorage, Array(vectorStorage.rawValue.utf8))
                    try put(K.nextID, littleEndian(UInt64(1)))
                    try put(K.nextSequence, littleEndian(UInt64(1)))
                }
            }
            // rename(2) replaces an empty directory; the commit above is already on disk, and
            // the folder's own entries are made durable before it is renamed.
            syncDirectory(temp)
            do { try FileSystem.rename(temp, to: location) } catch let e as FileError {
                throw StoreError.invalidPath(store: name, path: name, reason: "cannot move the new store into place: \(e.reason)")
            }
            syncDirectory(parent)
        } catch {
            removeCreationFolder(temp)
            throw error
        }
        return try open(at: location, initialMapSize: initialMapSize)
    }

    /// Deletes a `.creating-` folder: LMDB's two files, then the folder.
    private static func removeCreationFolder(_ folder: FilePathBytes) {
        for entry in (try? FileSystem.listDirectory(folder)) ?? [] { try? FileSystem.removeFile(folder.appending(entry)) }
        try? FileSystem.removeDirectory(folder)
    }

    /// Removes what `create` left behind when it was killed (`.<name>.creating-*` folders next to
    /// `url`). Call it only when no other process can be creating this store (under a writer lock).
    public static func removeUnfinishedCreations(of url: URL) { removeUnfinishedCreations(of: FilePathBytes(url.path)) }

    public static func removeUnfinishedCreations(of location: FilePathBytes) {
        let parent = location.parent
        let prefix = Array(".".utf8) + location.lastComponent + Array(".creating-".utf8)
        for entry in (try? FileSystem.listDirectory(parent)) ?? [] where entry.starts(with: prefix) {
            removeCreationFolder(parent.appending(entry))
        }
    }

    /// True when `url` holds an LMDB environment with nothing in it (a 0-byte data.mdb, or no
    /// database ever committed): what a crash at the start of a non-atomic creation leaves.
    /// Such a folder holds no data and may be replaced.
    public static func isEmptyEnvironment(at url: URL) -> Bool { isEmptyEnvironment(at: FilePathBytes(url.path)) }

    public static func isEmptyEnvironment(at location: FilePathBytes) -> Bool {
        guard let size = try? FileSystem.status(location.appending(Array("data.mdb".utf8))).size else { return false }
        if size == 0 { return true }
        // An environment that never had a database is its two meta pages (and at most a root).
        if size > 4 * 65536 { return false }
        guard let env = try? Environment(path: location, mapSize: defaultMapSize, maxDatabases: 16, readOnly: true) else {
            return false
        }
        defer { env.close() }
        return env.isEmpty
    }

    /// Opens an existing store, checking its magic number and schema version, and with
    /// `requiring`, that its vectors came from that model (see `requireIdentity`).
    /// With `readOnly`, the store is opened without write access (and works in a folder this
    /// process cannot write); writes then throw `StoreError.readOnly`.
    public static func open(
        at url: URL, requiring expected: ModelIdentity? = nil, initialMapSize: Int = defaultMapSize,
        readOnly: Bool = false
    ) throws -> Store {
        try open(at: FilePathBytes(url.path), requiring: expected, initialMapSize: initialMapSize, readOnly: readOnly)
    }

    /// `open(at:)` for a folder named by bytes.
    public static func open(
        at location: FilePathBytes, requiring expected: ModelIdentity? = nil, initialMapSize: Int = defaultMapSize,
        readOnly: Bool = false
    ) throws -> Store {
        let name = location.description
        guard FileSystem.exists(location.appending(Array("data.mdb".utf8))) else {
            throw StoreError.notFound(store: name)
        }
        return try mapped(location) {
            let env = try Environment(path: location, mapSize: initialMapSize, maxDatabases: 16, readOnly: readOnly)
            do {
                // A write into a damaged page can overrun LMDB's heap buffers, which no guard
                // can undo, and a read of a damaged page can hand back wrong records that still
                // decode (a page of 0xFF read as a leaf of empty keys): every open checks the
                // structure first, and a writer the free list too.
                try env.verifyStructure()
                if !readOnly { try env.checkFreeList() }
                typealias Header = (Databases, ModelIdentity, VectorStorage, String?, UInt32)
                let (db, identity, storage, storedID, version) = try env.read(commit: true) { txn -> Header in
                    guard let db = try openDatabases(env, txn, create: false) else {
                        throw StoreError.notAStore(store: name, detail: "the named databases are missing")
                    }
                    let get = { (key: String) in try txn.get(db.store, Array(key.utf8)) }
                    typealias K = Layout.Key
                    guard try get(K.magic) == Layout.magic else {
                        throw StoreError.notAStore(store: name, detail: "wrong magic number")
                    }
                    guard let v = try get(K.schemaVersion), v.count == 4 else {
                        throw StoreError.corrupt(store: name, detail: "schema version missing")
                    }
                    let version = v.withUnsafeBytes { b in var r = ByteReader(b); return r.u32LE()! }
                    guard Layout.readableSchemaVersions.contains(version) else {
                        throw StoreError.unsupportedSchema(store: name, found: version, supported: Layout.schemaVersion)
                    }
                    guard let n = try get(K.modelName), let modelName = String(validating: n, as: UTF8.self),
                        let f = try get(K.modelFingerprint), let fingerprint = String(validating: f, as: UTF8.self),
                        let d = try get(K.dimension), d.count == 4,
                        let s = try get(K.vectorStorage),
                        let storage = VectorStorage(rawValue: String(decoding: s, as: UTF8.self))
                    else { throw StoreError.corrupt(store: name, detail: "model identity or vector storage missing") }
                    let dimension = d.withUnsafeBytes { b in var r = ByteReader(b); return Int(r.u32LE()!) }
                    guard dimension > 0, dimension <= 1 << 20 else {
                        throw StoreError.corrupt(store: name, detail: "dimension \(dimension) is not in 1...1048576")
                    }
                    var storeID: String?
                    if let raw = try get(K.storeID) {
                        guard let id = String(validating: raw, as: UTF8.self), isStoreID(id) else {
                            throw StoreError.corrupt(store: name, detail: "the store id is not 32 hex characters")
                        }
                        storeID = id
                    }
                    return (db, ModelIdentity(name: modelName, fingerprint: fingerprint, dimension: dimension), storage, storeID, version)
                }
                var id = storedID
                if (id == nil || version < Layout.schemaVersion) && env.mode == .readWrite {
                    // A store made before store ids existed gets one now; a version-1 store
                    // becomes version 2 (its next log entries carry the chain digest).
                    let fresh = randomHex(16)
                    try env.write { txn in
                        if let raced = try txn.get(db.store, Array(Layout.Key.storeID.utf8)) {
                            id = String(decoding: raced, as: UTF8.self)
                        } else {
                            try txn.put(db.store, Array(Layout.Key.storeID.utf8), Array(fresh.utf8))
                            id = fresh
                        }
                        try txn.put(db.store, Array(Layout.Key.schemaVersion.utf8), littleEndian(Layout.schemaVersion))
                    }
                }
                let store = Store(location: location, env: env, db: db, identity: identity, vectorStorage: storage, storeID: id)
                if let expected { try store.requireIdentity(expected) }
                return store
            } catch {
                env.close()
                throw error
            }
        }
    }

    private static func openDatabases(_ env: Environment, _ txn: Txn, create: Bool) throws -> Databases? {
        var handles: [MDB_dbi] = []
        for name in Layout.allDatabases {
            guard let dbi = try env.openDatabase(name, in: txn, create: create) else { return nil }
            handles.append(dbi)
        }
        return Databases(
            store: handles[0], items: handles[1], vectors: handles[2], paths: handles[3], hashes: handles[4],
            log: handles[5], meta: handles[6])
    }

    /// Walks the page structure of data.mdb again, as every open does (see `kmdb_env_verify`).
    /// Throws `StoreError.corrupt` naming the store when a page is damaged.
    public func verifyStructure() throws { try Self.mapped(location) { try env.verifyStructure() } }

    /// Closes the store; later calls throw `StoreError.closed`. Also happens on deinit.
    public func close() { env.close() }

    /// Current size of the memory map in bytes (it grows by itself).
    public var mapSize: Int { env.mapSize }

    // MARK: - Identity

    /// Throws unless `identity` is the model this store's vectors came from: the same
    /// fingerprint (the weights and configs) and dimension. The name is only the folder's name
    /// when the store was made: a renamed or copied model folder is the same model.
    public func requireIdentity(_ identity: ModelIdentity) throws {
        if !identity.isSameModel(as: self.identity) {
            throw StoreError.identityMismatch(store: storeName, stored: self.identity, requested: identity)
        }
    }

    // MARK: - Meta: a small key-value area for other layers

    /// The bytes stored under `key`, or nil.
    public func meta(key: String) throws -> Data? {
        try checkedKey(key)
        return try reading { txn in try txn.get(db.meta, Array(key.utf8)).map { Data($0) } }
    }

    /// Stores `value` under `key` (nil deletes it), in its own transaction.
    public func setMeta(key: String, value: Data?) throws {
        try checkedKey(key)
        try writing { txn in
            if let value { try txn.put(db.meta, Array(key.utf8), Array(value)) } else { try txn.delete(db.meta, Array(key.utf8)) }
        }
    }

    /// All keys of the meta area, in byte order.
    public func metaKeys() throws -> [String] {
        try reading { txn in
            var keys: [String] = []
            try txn.scan(db.meta) { k, _ in keys.append(String(decoding: k, as: UTF8.self)); return true }
            return keys
        }
    }

    // MARK: - Plumbing

    /// Runs a read transaction, turning LMDB failures into `StoreError`s that name the store.
    func reading<T>(_ body: (Txn) throws -> T) throws -> T { try latched { try Self.mapped(location) { try env.read(body) } } }
    func writing<T>(_ body: (Txn) throws -> T) throws -> T {
        if isReadOnly { throw StoreError.readOnly(store: storeName, reason: "it was opened read-only") }
        return try latched { try Self.mapped(location) { try env.write(body) } }
    }

    /// Runs `body` unless an earlier call faulted; a fault in `body` sets the latch.
    private func latched<T>(_ body: () throws -> T) throws -> T {
        if faulted.isSet {
            throw StoreError.corrupt(store: storeName, detail: "an earlier read of it faulted in this process, so LMDB's state here cannot be trusted; open the store again")
        }
        let faultsBefore = kmdb_thread_fault_count()
        do { return try body() } catch {
            if kmdb_thread_fault_count() != faultsBefore { faulted.set() }
            throw error
        }
    }

    static func mapped<T>(_ location: FilePathBytes, _ body: () throws -> T) throws -> T {
        let name = location.description
        do {
            return try body()
        } catch let f as LMDBFailure {
            if f.isDamage { throw StoreError.corrupt(store: name, detail: f.detail ?? "\(f.operation): \(f.message)") }
            // LMDB reports a short write as EIO: on a full disk that is what a commit gets.
            if f.isDiskFull || (f.code == EIO && diskIsFull(location)) { throw StoreError.diskFull(store: name) }
            if f.isNotWritable { throw StoreError.readOnly(store: name, reason: "\(f.operation): \(f.message)") }
            throw StoreError.lmdb(store: name, operation: f.operation, code: f.code, message: f.message)
        } catch is Environment.Closed {
            throw StoreError.closed(store: name)
        }
    }

    /// The longest path the store can keep, in bytes (LMDB's key limit, 511 in Debian's build).
    public var maxPathBytes: Int { env.maxKeySize }

    /// Throws `StoreError.invalidPath` unless `path` can be a key: 1 to `maxPathBytes` bytes.
    func checkedPath(_ path: FilePathBytes) throws {
        let n = path.bytes.count
        if n == 0 { throw StoreError.invalidPath(store: storeName, path: "", reason: "it is empty") }
        let maxKey = env.maxKeySize
        if n > maxKey {
            throw StoreError.invalidPath(
                store: storeName, path: path.description, reason: "the path is \(n) bytes, the store's keys hold at most \(maxKey)")
        }
    }

    /// Whether the file system holding `path` has (almost) no space left for this user.
    static func diskIsFull(_ path: FilePathBytes) -> Bool {
        var st = statvfs()
        guard path.withCString({ statvfs($0, &st) }) == 0 else { return false }
        return UInt64(st.f_bavail) * UInt64(st.f_frsize) < 1 << 20
    }

    static func isStoreID(_ s: String) -> Bool { s.utf8.count == 32 && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) } }

    /// `bytes` random bytes as lower-case hex.
    static func randomHex(_ bytes: Int) -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
    }

    static func syncDirectory(_ path: FilePathBytes) {
        let fd = path.withCString { Glibc.open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) } ?? -1
        if fd >= 0 { fsync(fd); Glibc.close(fd) }
    }

    /// Meta keys are LMDB keys: 1 to 511 bytes.
    func checkedKey(_ key: String) throws {
        let n = key.utf8.count
        if n == 0 { throw StoreError.invalidPath(store: storeName, path: key, reason: "it is empty") }
        let maxKey = env.maxKeySize
        if n > maxKey {
            throw StoreError.invalidPath(
                store: storeName, path: key, reason: "it is \(n) bytes of UTF-8, LMDB keys hold at most \(maxKey)")
        }
    }
}

/// A flag set once, read from any thread.
final class FaultLatch: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
