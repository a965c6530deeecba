import CLMDB
import Foundation
import KestrelFiles

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

    public let url: URL
    public let identity: ModelIdentity
    public let vectorStorage: VectorStorage

    let env: Environment
    let db: Databases
    var storeName: String { url.path }

    struct Databases {
        let store, items, vectors, paths, hashes, log, meta: MDB_dbi
    }

    private init(url: URL, env: Environment, db: Databases, identity: ModelIdentity, vectorStorage: VectorStorage) {
        self.url = url
        self.env = env
        self.db = db
        self.identity = identity
        self.vectorStorage = vectorStorage
    }

    // MARK: - Create, open, close

    /// Creates a new store in folder `url` (made if missing) for vectors of `identity`.
    public static func create(
        at url: URL, identity: ModelIdentity, vectorStorage: VectorStorage = .float32,
        initialMapSize: Int = defaultMapSize
    ) throws -> Store {
        let name = url.path
        guard identity.dimension > 0, identity.dimension <= 1 << 20 else {
            throw StoreError.invalidIdentity(store: name, reason: "dimension \(identity.dimension) is not in 1...1048576")
        }
        guard !identity.name.isEmpty else { throw StoreError.invalidIdentity(store: name, reason: "the model name is empty") }
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("data.mdb").path) {
            throw StoreError.alreadyExists(store: name)
        }
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw StoreError.invalidPath(store: name, path: name, reason: "cannot create the folder: \(error)")
        }
        return try mapped(name) {
            let env = try Environment(path: name, mapSize: initialMapSize, maxDatabases: 16)
            let db = try env.write { txn -> Databases in
                let db = try openDatabases(env, txn, create: true)!
                let put = { (key: String, value: [UInt8]) in try txn.put(db.store, Array(key.utf8), value) }
                typealias K = Layout.Key
                try put(K.magic, Layout.magic)
                try put(K.schemaVersion, littleEndian(Layout.schemaVersion))
                try put(K.modelName, Array(identity.name.utf8))
                try put(K.modelFingerprint, Array(identity.fingerprint.utf8))
                try put(K.dimension, littleEndian(UInt32(identity.dimension)))
                try put(K.vectorStorage, Array(vectorStorage.rawValue.utf8))
                try put(K.nextID, littleEndian(UInt64(1)))
                try put(K.nextSequence, littleEndian(UInt64(1)))
                return db
            }
            return Store(url: url, env: env, db: db, identity: identity, vectorStorage: vectorStorage)
        }
    }

    /// Opens an existing store, checking its magic number and schema version, and with
    /// `requiring`, that its vectors came from that model (see `requireIdentity`).
    public static func open(
        at url: URL, requiring expected: ModelIdentity? = nil, initialMapSize: Int = defaultMapSize
    ) throws -> Store {
        let name = url.path
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("data.mdb").path) else {
            throw StoreError.notFound(store: name)
        }
        return try mapped(name) {
            let env = try Environment(path: name, mapSize: initialMapSize, maxDatabases: 16)
            do {
                let (db, identity, storage) = try env.read(commit: true) { txn -> (Databases, ModelIdentity, VectorStorage) in
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
                    guard version == Layout.schemaVersion else {
                        throw StoreError.unsupportedSchema(store: name, found: version, supported: Layout.schemaVersion)
                    }
                    guard let n = try get(K.modelName), let modelName = String(validating: n, as: UTF8.self),
                        let f = try get(K.modelFingerprint), let fingerprint = String(validating: f, as: UTF8.self),
                        let d = try get(K.dimension), d.count == 4,
                        let s = try get(K.vectorStorage),
                        let storage = VectorStorage(rawValue: String(decoding: s, as: UTF8.self))
                    else { throw StoreError.corrupt(store: name, detail: "model identity or vector storage missing") }
                    let dimension = d.withUnsafeBytes { b in var r = ByteReader(b); return Int(r.u32LE()!) }
                    return (db, ModelIdentity(name: modelName, fingerprint: fingerprint, dimension: dimension), storage)
                }
                let store = Store(url: url, env: env, db: db, identity: identity, vectorStorage: storage)
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

    /// Closes the store; later calls throw `StoreError.closed`. Also happens on deinit.
    public func close() { env.close() }

    /// Current size of the memory map in bytes (it grows by itself).
    public var mapSize: Int { env.mapSize }

    // MARK: - Identity

    /// Throws unless `identity` is the model this store's vectors came from.
    public func requireIdentity(_ identity: ModelIdentity) throws {
        if identity != self.identity {
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
    func reading<T>(_ body: (Txn) throws -> T) throws -> T { try Self.mapped(storeName) { try env.read(body) } }
    func writing<T>(_ body: (Txn) throws -> T) throws -> T { try Self.mapped(storeName) { try env.write(body) } }

    static func mapped<T>(_ name: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let f as LMDBFailure {
            throw StoreError.lmdb(store: name, operation: f.operation, code: f.code, message: f.message)
        } catch is Environment.Closed {
            throw StoreError.closed(store: name)
        }
    }

    /// The longest path the store can keep, in bytes (LMDB's key limit, 511 in Debian's build).
    public var maxPathBytes: Int { env.maxKeySize }

    /// Throws `StoreError.invalidPath` unless `path` can be a key: 1 to `maxPathBytes` bytes.
    public func checkPath(_ path: FilePathBytes) throws { try checkedPath(path) }

    func checkedPath(_ path: FilePathBytes) throws {
        let n = path.bytes.count
        if n == 0 { throw StoreError.invalidPath(store: storeName, path: "", reason: "it is empty") }
        let maxKey = env.maxKeySize
        if n > maxKey {
            throw StoreError.invalidPath(
                store: storeName, path: path.description, reason: "the path is \(n) bytes, the store's keys hold at most \(maxKey)")
        }
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
