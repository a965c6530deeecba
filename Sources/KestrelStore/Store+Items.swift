import CLMDB
import Foundation
import KestrelFiles

extension Store {
    // MARK: - Adding and removing

    /// Adds a batch of files in ONE write transaction: if any item throws (bad hash, wrong
    /// dimension, new content without an embedding...), nothing of the batch is stored.
    /// Items are applied in order, so a batch may contain the same bytes under several paths.
    public func add(_ items: [NewItem]) throws -> [AddResult] {
        if items.isEmpty { return [] }
        for item in items { try checkedPath(item.path) }
        return try writing { txn in
            var counters = try Counters(txn, self)
            let results = try items.map { try add($0, txn, &counters) }
            try counters.save(txn, self)
            return results
        }
    }

    /// Removes paths in one transaction. An item goes (and is logged as removed) when its last
    /// path goes. Unknown paths are ignored. Returns the ids of the items removed.
    @discardableResult
    public func removePaths(_ paths: [FilePathBytes]) throws -> [UInt64] {
        for p in paths { try checkedPath(p) }
        return try writing { txn in
            var counters = try Counters(txn, self)
            var removed: [UInt64] = []
            for p in paths {
                guard let entry = try storedPath(p, txn) else { continue }
                if try detach(p, from: entry.id, txn, &counters) { removed.append(entry.id) }
            }
            try counters.save(txn, self)
            return removed
        }
    }

    /// Replaces an item's user metadata (a JSON text; nil clears it). Not logged.
    public func setMetadata(id: UInt64, json: String?) throws {
        if let json { try validateJSON(json, id: id) }
        try writing { txn in
            guard var item = try storedItem(id, txn) else { throw StoreError.noSuchItem(store: storeName, id: id) }
            item.metadata = json
            try txn.put(db.items, bigEndian(id), item.encoded())
        }
    }

    // MARK: - Reading

    /// The item with this id, or nil.
    public func item(id: UInt64) throws -> ItemRecord? {
        try reading { txn in try storedItem(id, txn)?.record(id: id) }
    }

    /// What the store knows about `path` (item, hash, size, mtime), or nil. On resume, a file
    /// whose size and mtime `matches` need not be read again.
    public func lookup(path: FilePathBytes) throws -> PathRecord? {
        try checkedPath(path)
        return try reading { txn in
            guard let entry = try storedPath(path, txn) else { return nil }
            let item = try itemListing(path, entry.id, txn)
            return PathRecord(
                path: path, id: entry.id, contentHash: SHA256.hex(item.digest), fileSize: item.fileSize,
                mtimeNanoseconds: entry.mtimeNanoseconds)
        }
    }

    /// The item holding these bytes (SHA-256 hex), or nil.
    public func lookup(contentHash: String) throws -> ItemRecord? {
        guard let digest = digestBytes(hex: contentHash) else {
            throw StoreError.invalidContentHash(store: storeName, path: "(lookup)", hash: contentHash)
        }
        return try reading { txn in
            guard let id = try txn.get(db.hashes, digest).flatMap(readU64BE) else { return nil }
            return try storedItem(id, txn)?.record(id: id)
        }
    }

    /// The item's vector (decoded to Float), or nil.
    public func vector(id: UInt64) throws -> [Float]? {
        try reading { txn in
            try txn.withValue(db.vectors, bigEndian(id)) { bytes in try decodeVector(bytes, id: id) }
        }
    }

    /// Calls `body` for every vector in id order, inside one read transaction (a consistent
    /// snapshot). Do not write to the store from `body`.
    public func forEachVector(_ body: (_ id: UInt64, _ vector: [Float]) throws -> Void) throws {
        try reading { txn in
            try txn.scan(db.vectors) { k, v in
                guard let id = readU64BE(k) else { throw StoreError.corrupt(store: storeName, detail: "bad vector key") }
                try body(id, try decodeVector(v, id: id))
                return true
            }
        }
    }

    /// Every id and vector, in id order: `values` is row-major, `ids.count` rows of `identity.dimension`.
    public func allVectors() throws -> (ids: [UInt64], values: [Float]) {
        try reading { txn in
            // The count comes from the file: trust it for a reservation only as far as the file
            // could hold that many vectors.
            let perVector = identity.dimension * vectorStorage.bytesPerComponent
            let n = max(0, min(try txn.entryCount(db.vectors), env.fileSize / max(perVector, 1)))
            var ids: [UInt64] = [], values: [Float] = []
            ids.reserveCapacity(n)
            values.reserveCapacity(n * identity.dimension)
            try txn.scan(db.vectors) { k, v in
                guard let id = readU64BE(k) else { throw StoreError.corrupt(store: storeName, detail: "bad vector key") }
                ids.append(id)
                try decodeVector(v, id: id, into: &values)
                return true
            }
            return (ids, values)
        }
    }

    /// Number of items (distinct contents).
    public var count: Int { get throws { try reading { txn in try checkedCount(txn, db.items, "items") } } }

    /// Number of paths.
    public var pathCount: Int { get throws { try reading { txn in try checkedCount(txn, db.paths, "paths") } } }

    /// An entry count as LMDB keeps it (in the database record, not counted): checked against
    /// what the file could hold (an entry takes at least 8 bytes).
    private func checkedCount(_ txn: Txn, _ dbi: MDB_dbi, _ name: String) throws -> Int {
        let n = try txn.entryCount(dbi)
        guard n >= 0, n <= env.fileSize / 8 else {
            throw StoreError.corrupt(store: storeName, detail: "the \(name) database says it holds \(n) entries")
        }
        return n
    }

    /// Every path, in byte order.
    public func paths() throws -> [FilePathBytes] {
        try paths(withPrefix: FilePathBytes([])).map(\.path)
    }

    /// The paths that start with the bytes of `prefix` (all paths for an empty prefix) and the
    /// item each belongs to, in byte order: one read transaction, one range scan of the sorted
    /// keys (a prefix is the range of keys from the prefix up to the first key without it).
    public func paths(withPrefix prefix: FilePathBytes) throws -> [(path: FilePathBytes, id: UInt64)] {
        if prefix.bytes.count > env.maxKeySize { return [] }  // no key is that long
        return try reading { txn in try pathEntries(withPrefix: prefix, txn) }
    }

    /// Like `paths(withPrefix:)`, with the item each path belongs to, read in the same single
    /// read transaction (not one transaction per path). A path whose item is missing or does
    /// not list it is damage (`StoreError.corrupt`), never left out.
    public func pathItems(withPrefix prefix: FilePathBytes) throws -> [(path: FilePathBytes, item: ItemRecord)] {
        if prefix.bytes.count > env.maxKeySize { return [] }  // no key is that long
        return try reading { txn in
            try pathEntries(withPrefix: prefix, txn).map { e in (e.path, try itemListing(e.path, e.id, txn).record(id: e.id)) }
        }
    }

    /// The item a `paths` entry points at, which must exist and list the path.
    private func itemListing(_ path: FilePathBytes, _ id: UInt64, _ txn: Txn) throws -> StoredItem {
        guard let item = try storedItem(id, txn) else {
            throw StoreError.corrupt(store: storeName, detail: "path \(path) points at missing item \(id)")
        }
        guard item.paths.contains(path) else {
            throw StoreError.corrupt(store: storeName, detail: "path \(path) points at item \(id), which does not list it")
        }
        return item
    }

    /// The range scan behind both: keys from `prefix` up to the first key without it.
    private func pathEntries(withPrefix prefix: FilePathBytes, _ txn: Txn) throws -> [(path: FilePathBytes, id: UInt64)] {
        var out: [(path: FilePathBytes, id: UInt64)] = []
        try txn.scan(db.paths, from: prefix.isEmpty ? nil : prefix.bytes) { k, v in
            guard k.count >= prefix.bytes.count, k.prefix(prefix.bytes.count).elementsEqual(prefix.bytes) else { return false }
            let path = FilePathBytes(bytes: k)
            // Keys come in strictly increasing byte order; anything else is a damaged page.
            if let previous = out.last?.path, !(previous < path) {
                throw StoreError.corrupt(store: storeName, detail: "the paths database is out of order at \(path)")
            }
            guard !k.isEmpty, let entry = StoredPath(decoding: Array(v)) else {
                throw StoreError.corrupt(store: storeName, detail: "path entry for \(path) cannot be decoded")
            }
            out.append((path, entry.id))
            return true
        }
        return out
    }

    // MARK: - Change log

    /// The sequence number of the last change (0 when nothing was ever added).
    public var lastSequence: UInt64 {
        get throws { try reading { txn in try Counters(txn, self).nextSequence - 1 } }
    }

    /// Changes with sequence > `since`, oldest first (at most `limit` of them). An index that
    /// has applied everything up to `s` asks `changes(since: s)`.
    public func changes(since: UInt64, limit: Int = .max) throws -> [Change] {
        try reading { txn in
            var out: [Change] = []
            guard since < UInt64.max, limit > 0 else { return out }
            let last = try Counters(txn, self).nextSequence - 1
            try txn.scan(db.log, from: bigEndian(since + 1)) { k, v in
                guard let seq = readU64BE(k), let entry = decodeLogEntry(sequence: seq, v) else {
                    throw StoreError.corrupt(store: storeName, detail: "bad log entry")
                }
                // Sequences are consecutive from 1 up to the counter: a gap is a lost entry.
                let expected = (out.last?.sequence ?? since) + 1
                guard seq == expected, seq <= last else {
                    throw StoreError.corrupt(store: storeName, detail: "the change log has entry \(seq) where \(expected) belongs (last \(last))")
                }
                out.append(entry.change)
                return out.count < limit
            }
            if out.count < limit, (out.last?.sequence ?? since) < last {
                throw StoreError.corrupt(store: storeName, detail: "the change log ends before its last entry \(last)")
            }
            return out
        }
    }

    /// The chain digest of the change log at `sequence` (64 hex characters): a digest of every
    /// change up to it, in order, so that two copies of one store that took different changes
    /// disagree there (see docs/store-format.md). nil for sequence 0 and for entries written
    /// before schema version 2, which carry none. Throws `StoreError.corrupt` when the store
    /// has no entry at a sequence it reached.
    public func logChain(at sequence: UInt64) throws -> String? {
        guard sequence > 0 else { return nil }
        return try reading { txn in
            let last = try Counters(txn, self).nextSequence - 1
            guard sequence <= last else { return nil }
            guard let entry = try txn.withValue(db.log, bigEndian(sequence), { decodeLogEntry(sequence: sequence, $0) }), let entry else {
                throw StoreError.corrupt(store: storeName, detail: "log entry \(sequence) is missing or cannot be decoded")
            }
            return entry.chain.map(SHA256.hex)
        }
    }

    // MARK: - Inside a write transaction

    /// The id and sequence counters, read at the start of a write and saved at its end.
    struct Counters {
        var nextID: UInt64
        var nextSequence: UInt64
        /// The chain of the last log entry (zeros when there is none or it has none).
        var chain: [UInt8]

        init(_ txn: Txn, _ store: Store) throws {
            func read(_ key: String) throws -> UInt64 {
                guard let b = try txn.get(store.db.store, Array(key.utf8)), b.count == 8 else {
                    throw StoreError.corrupt(store: store.storeName, detail: "counter \(key) missing")
                }
                let value = b.withUnsafeBytes { r in var reader = ByteReader(r); return reader.u64LE()! }
                guard validIDs.contains(value) else {
                    throw StoreError.corrupt(store: store.storeName, detail: "counter \(key) is \(value)")
                }
                return value
            }
            nextID = try read(Layout.Key.nextID)
            nextSequence = try read(Layout.Key.nextSequence)
            chain = noLogChain
            if nextSequence > 1 {
                let seq = nextSequence - 1
                guard let bytes = try txn.get(store.db.log, bigEndian(seq)),
                    let entry = bytes.withUnsafeBytes({ decodeLogEntry(sequence: seq, $0) })
                else { throw StoreError.corrupt(store: store.storeName, detail: "log entry \(seq) is missing or cannot be decoded") }
                chain = entry.chain ?? noLogChain
            }
        }

        func save(_ txn: Txn, _ store: Store) throws {
            try txn.put(store.db.store, Array(Layout.Key.nextID.utf8), littleEndian(nextID))
            try txn.put(store.db.store, Array(Layout.Key.nextSequence.utf8), littleEndian(nextSequence))
        }

        /// Logs a change of the item `id` whose content hashes to `digest`.
        mutating func log(_ kind: Change.Kind, _ id: UInt64, content digest: [UInt8], _ txn: Txn, _ store: Store) throws {
            chain = nextLogChain(previous: chain, kind, id, content: digest)
            try txn.put(store.db.log, bigEndian(nextSequence), encodeLogEntry(kind, id, chain: chain))
            nextSequence += 1
        }
    }

    private func add(_ new: NewItem, _ txn: Txn, _ counters: inout Counters) throws -> AddResult {
        guard let digest = digestBytes(hex: new.contentHash) else {
            throw StoreError.invalidContentHash(store: storeName, path: new.path.description, hash: new.contentHash)
        }
        if let e = new.embedding, e.count != identity.dimension {
            throw StoreError.dimensionMismatch(store: storeName, expected: identity.dimension, actual: e.count, path: new.path.description)
        }
        if let e = new.embedding, !e.allSatisfy(\.isFinite) {  // a NaN vector would match nothing, forever
            throw StoreError.invalidItem(store: storeName, path: new.path.description, reason: "its embedding holds NaN or infinite values")
        }
        // A component at or past 65520 would be stored as a float16 infinity.
        if vectorStorage == .float16, let e = new.embedding, !e.allSatisfy({ VectorCoding.float(halfBits: VectorCoding.halfBits($0)).isFinite }) {
            throw StoreError.invalidItem(store: storeName, path: new.path.description, reason: "its embedding holds values beyond float16's range (65504)")
        }
        guard new.width >= 0, new.height >= 0, new.width <= UInt32.max, new.height <= UInt32.max else {
            throw StoreError.invalidItem(store: storeName, path: new.path.description, reason: "image size \(new.width)x\(new.height) is invalid")
        }
        if let m = new.metadata { try validateJSON(m, id: 0) }
        let pathKey = new.path.bytes
        let previous = try storedPath(new.path, txn)
        var existing = try txn.get(db.hashes, digest).flatMap(readU64BE)

        if let previous, previous.id == existing {  // same path, same bytes
            if previous.mtimeNanoseconds != new.mtimeNanoseconds {
                try txn.put(db.paths, pathKey, StoredPath(id: previous.id, mtimeNanoseconds: new.mtimeNanoseconds).encoded())
            }
            if let m = new.metadata { try updateItem(previous.id, txn) { $0.metadata = m } }
            return .unchanged(id: previous.id)
        }
        if let previous {  // the file at this path now holds other bytes
            _ = try detach(new.path, from: previous.id, txn, &counters)
            existing = try txn.get(db.hashes, digest).flatMap(readU64BE)
        }

        let id: UInt64
        if let existing {
            id = existing
            try updateItem(id, txn) {
                $0.paths.append(new.path)
                if let m = new.metadata { $0.metadata = m }
            }
        } else {
            guard let embedding = new.embedding else { throw StoreError.missingEmbedding(store: storeName, path: new.path.description) }
            id = counters.nextID
            counters.nextID += 1
            let item = StoredItem(
                digest: digest, fileSize: new.fileSize, width: UInt32(new.width), height: UInt32(new.height),
                paths: [new.path], metadata: new.metadata)
            try txn.put(db.items, bigEndian(id), item.encoded())
            try txn.put(db.vectors, bigEndian(id), VectorCoding.encode(embedding, as: vectorStorage))
            try txn.put(db.hashes, digest, bigEndian(id))
            try counters.log(.added, id, content: digest, txn, self)
        }
        try txn.put(db.paths, pathKey, StoredPath(id: id, mtimeNanoseconds: new.mtimeNanoseconds).encoded())

        if let previous { return .contentChanged(previousID: previous.id, id: id) }
        return existing != nil ? .pathAdded(id: id) : .added(id: id)
    }

    /// Removes `path` from item `id`; removes the item when no path is left (returns true then).
    private func detach(_ path: FilePathBytes, from id: UInt64, _ txn: Txn, _ counters: inout Counters) throws -> Bool {
        try txn.delete(db.paths, path.bytes)
        guard var item = try storedItem(id, txn) else {
            throw StoreError.corrupt(store: storeName, detail: "path \(path) points at missing item \(id)")
        }
        item.paths.removeAll { $0 == path }
        if !item.paths.isEmpty {
            try txn.put(db.items, bigEndian(id), item.encoded())
            return false
        }
        try txn.delete(db.items, bigEndian(id))
        try txn.delete(db.vectors, bigEndian(id))
        try txn.delete(db.hashes, item.digest)
        try counters.log(.removed, id, content: item.digest, txn, self)
        return true
    }

    private func updateItem(_ id: UInt64, _ txn: Txn, _ change: (inout StoredItem) -> Void) throws {
        guard var item = try storedItem(id, txn) else {
            throw StoreError.corrupt(store: storeName, detail: "item \(id) is referenced but missing")
        }
        change(&item)
        try txn.put(db.items, bigEndian(id), item.encoded())
    }

    private func storedItem(_ id: UInt64, _ txn: Txn) throws -> StoredItem? {
        guard let bytes = try txn.get(db.items, bigEndian(id)) else { return nil }
        guard let item = StoredItem(decoding: bytes), item.paths.allSatisfy({ $0.bytes.count <= env.maxKeySize }) else {
            throw StoreError.corrupt(store: storeName, detail: "item \(id) cannot be decoded")
        }
        return item
    }

    private func storedPath(_ path: FilePathBytes, _ txn: Txn) throws -> StoredPath? {
        guard let bytes = try txn.get(db.paths, path.bytes) else { return nil }
        guard let entry = StoredPath(decoding: bytes) else {
            throw StoreError.corrupt(store: storeName, detail: "path entry for \(path) cannot be decoded")
        }
        return entry
    }

    /// Appends vector `id`'s components to `out`. The store never writes a NaN or infinite
    /// component (`add` refuses them), so one read back is damage (a page of 0xFF reads as NaNs).
    private func decodeVector(_ bytes: UnsafeRawBufferPointer, id: UInt64, into out: inout [Float]) throws {
        let start = out.count
        guard VectorCoding.decode(bytes, as: vectorStorage, dimension: identity.dimension, into: &out) else {
            throw StoreError.corrupt(
                store: storeName, detail: "vector \(id) has \(bytes.count) bytes, expected \(identity.dimension * vectorStorage.bytesPerComponent)")
        }
        guard out[start...].allSatisfy(\.isFinite) else {
            throw StoreError.corrupt(store: storeName, detail: "vector \(id) holds NaN or infinite values")
        }
    }

    private func decodeVector(_ bytes: UnsafeRawBufferPointer, id: UInt64) throws -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(identity.dimension)
        try decodeVector(bytes, id: id, into: &out)
        return out
    }

    private func validateJSON(_ json: String, id: UInt64) throws {
        do {
            _ = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
        } catch {
            throw StoreError.invalidMetadata(store: storeName, id: id, reason: "\(error.localizedDescription)")
        }
    }
}
