import CLMDB
import KestrelFiles
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A thin wrapper over one LMDB environment (a folder holding `data.mdb` and `lock.mdb`).
/// Opened with MDB_NOTLS: read transactions are not tied to threads. Every call that reads
/// pages goes through CLMDB's fault guard (a damaged file gives `KMDB_FAULT`, not a signal).
final class Environment: @unchecked Sendable {
    private var env: OpaquePointer?
    /// Reads and LMDB write transactions share it; only changing the map size (which LMDB allows
    /// only when this process has no transaction open) and closing take it exclusively.
    private let lock = ReadWriteLock()

    /// How the environment was opened.
    enum Mode: Sendable, Equatable {
        case readWrite
        /// MDB_RDONLY: no write transactions; readers still register in lock.mdb.
        case readOnly
        /// MDB_RDONLY | MDB_NOLOCK: for a folder this process cannot write (lock.mdb cannot be
        /// opened for writing). Nothing guards against a writer in another process meanwhile.
        case readOnlyUnlocked
    }
    let mode: Mode

    /// Opens the environment in folder `path`. With `readOnly`, falls back to
    /// `.readOnlyUnlocked` when lock.mdb cannot be opened for writing (EACCES, EROFS).
    /// Then checks that data.mdb holds every page its meta page says is in use.
    init(path: FilePathBytes, mapSize: Int, maxDatabases: UInt32, readOnly: Bool = false) throws {
        var attempts: [Mode] = readOnly ? [.readOnly, .readOnlyUnlocked] : [.readWrite]
        while true {
            let m = attempts.removeFirst()
            var flags = UInt32(MDB_NOTLS)
            if m != .readWrite { flags |= UInt32(MDB_RDONLY) }
            if m == .readOnlyUnlocked { flags |= UInt32(MDB_NOLOCK) }
            var e: OpaquePointer?
            try lmdbCheck(mdb_env_create(&e), "mdb_env_create")
            do {
                try lmdbCheck(mdb_env_set_maxdbs(e, maxDatabases), "mdb_env_set_maxdbs")
                // If the file's own map size is larger, LMDB keeps that one.
                try lmdbCheck(kmdb_env_set_mapsize(e, mapSize), "mdb_env_set_mapsize")
                try lmdbCheck(path.withCString { kmdb_env_open(e, $0, flags, 0o644) } ?? ENOENT, "mdb_env_open")
                try Environment.checkFileSize(e)
            } catch let f as LMDBFailure where !attempts.isEmpty && (f.code == EACCES || f.code == EROFS) {
                mdb_env_close(e)
                continue
            } catch {
                mdb_env_close(e)
                throw error
            }
            env = e
            mode = m
            maxKeySize = Int(mdb_env_get_maxkeysize(e))
            return
        }
    }

    /// LMDB maps data.mdb and trusts it to hold pages 0...last_pgno: a shorter file (truncated by
    /// a copy, a full disk, a bad restore) makes the first read of a missing page a SIGBUS.
    static func checkFileSize(_ e: OpaquePointer?) throws {
        var info = MDB_envinfo()
        var stat = MDB_stat()
        try lmdbCheck(kmdb_env_info(e, &info), "mdb_env_info")
        try lmdbCheck(kmdb_env_stat(e, &stat), "mdb_env_stat")
        let bytes = kmdb_env_file_size(e)
        guard bytes >= 0 else { throw LMDBFailure(operation: "fstat data.mdb", code: errno) }
        let size = UInt64(bytes)
        // A damaged meta page may hold any bits: no conversion that can trap.
        let pageSize = UInt64(stat.ms_psize), lastPage = UInt64(truncatingIfNeeded: info.me_last_pgno)
        guard pageSize > 0 else {
            throw LMDBFailure(operation: "checking data.mdb", code: MDB_CORRUPTED, detail: "data.mdb gives a page size of 0")
        }
        // Compared in pages: a damaged meta page may hold any last page number.
        let pagesInFile = size / pageSize
        if lastPage >= pagesInFile {
            throw LMDBFailure(
                operation: "checking data.mdb", code: MDB_CORRUPTED,
                detail: "data.mdb is \(size) bytes (\(pagesInFile) pages of \(pageSize) bytes) but its meta page says"
                    + " pages up to \(lastPage) are in use: the file is truncated (or its meta page is damaged)")
        }
    }

    deinit { close() }

    func close() {
        lock.exclusive {
            if let e = env { mdb_env_close(e) }
            env = nil
        }
    }

    var isOpen: Bool { lock.shared { env != nil } }

    /// Size of data.mdb in bytes (0 when unknown).
    var fileSize: Int { lock.shared { env.map { max(0, Int(kmdb_env_file_size($0))) } ?? 0 } }

    /// True when no transaction was ever committed (both meta pages still say transaction 0)
    /// and the main database is empty.
    var isEmpty: Bool {
        lock.shared {
            guard let e = env else { return false }
            var stat = MDB_stat()
            var info = MDB_envinfo()
            guard kmdb_env_stat(e, &stat) == 0, kmdb_env_info(e, &info) == 0 else { return false }
            return stat.ms_entries == 0 && info.me_last_txnid == 0
        }
    }

    /// Largest key LMDB accepts (511 bytes in the default build).
    let maxKeySize: Int

    /// The current map size in bytes.
    var mapSize: Int {
        lock.shared {
            guard let e = env else { return 0 }
            var info = MDB_envinfo()
            kmdb_env_info(e, &info)
            return info.me_mapsize
        }
    }

    struct Closed: Error {}

    /// Runs `body` in a read-only transaction. With `commit`, the transaction is committed
    /// rather than aborted (needed once, to keep named database handles opened in it).
    func read<T>(commit: Bool = false, _ body: (Txn) throws -> T) throws -> T {
        while true {
            let outcome: Result<T, Error>? = try lock.shared {
                guard let e = env else { throw Closed() }
                var txn: OpaquePointer?
                let rc = kmdb_txn_begin(e, nil, UInt32(MDB_RDONLY), &txn)
                if rc == MDB_MAP_RESIZED { return nil }  // another process grew the map
                try lmdbCheck(rc, "mdb_txn_begin (read)")
                let value: T
                do { value = try body(Txn(handle: txn!)) } catch { kmdb_txn_abort(txn); throw error }
                if commit {
                    try lmdbCheck(kmdb_txn_commit(txn), "mdb_txn_commit (read)")
                } else {
                    kmdb_txn_abort(txn)
                }
                return .success(value)
            }
            if let outcome { return try outcome.get() }
            try adoptMapSize(0)
        }
    }

    /// Runs `body` in one write transaction and commits it: all of it happens or none of it.
    /// When the map is full the transaction is aborted, the map grown and `body` run again, so
    /// `body` must have no effects outside the transaction.
    func write<T>(_ body: (Txn) throws -> T) throws -> T {
        var attempts = 0
        while true {
            attempts += 1
            var grow = false
            let outcome: Result<T, Error>? = try lock.shared {
                guard let e = env else { throw Closed() }
                var txn: OpaquePointer?
                let rc = kmdb_txn_begin(e, nil, 0, &txn)
                if rc == MDB_MAP_RESIZED { return nil }
                try lmdbCheck(rc, "mdb_txn_begin (write)")
                let value: T
                do {
                    value = try body(Txn(handle: txn!))
                } catch let f as LMDBFailure where f.code == MDB_MAP_FULL {
                    kmdb_txn_abort(txn)
                    grow = true
                    return nil
                } catch {
                    kmdb_txn_abort(txn)
                    throw error
                }
                let crc = kmdb_txn_commit(txn)  // frees the transaction whatever happens
                if crc == MDB_MAP_FULL { grow = true; return nil }
                try lmdbCheck(crc, "mdb_txn_commit")
                return .success(value)
            }
            if let outcome { return try outcome.get() }
            if grow {
                if attempts > 48 { throw LMDBFailure(operation: "growing the map", code: MDB_MAP_FULL) }
                let current = mapSize
                try adoptMapSize(current + min(current, 4 << 30))
            } else {
                try adoptMapSize(0)
            }
        }
    }

    /// Sets the map size (0: adopt the size another process chose). Waits for this process's
    /// transactions to end first, as LMDB requires.
    private func adoptMapSize(_ size: Int) throws {
        try lock.exclusive {
            guard let e = env else { throw Closed() }
            try lmdbCheck(kmdb_env_set_mapsize(e, size), "mdb_env_set_mapsize")
        }
    }

    /// LMDB trusts its free-page list when it allocates pages for a write: a damaged entry
    /// there makes it merge page numbers past the end of a heap buffer, which no signal guard
    /// can undo. So before the first write, every record of the free list (FREE_DBI: key a
    /// transaction id, value `count` then `count` page numbers, all size_t, strictly
    /// descending) must be well formed and name pages between the meta pages and the last page
    /// in use.
    func checkFreeList() throws {
        let lastPage = try lock.shared { () -> UInt64 in
            guard let e = env else { throw Closed() }
            var info = MDB_envinfo()
            try lmdbCheck(kmdb_env_info(e, &info), "mdb_env_info")
            return UInt64(truncatingIfNeeded: info.me_last_pgno)
        }
        let word = MemoryLayout<Int>.size
        try read { txn in
            try txn.scan(0) {  // FREE_DBI, database 0 inside LMDB
                key, value in
                func damaged(_ what: String) -> LMDBFailure {
                    LMDBFailure(operation: "checking the free-page list", code: MDB_CORRUPTED, detail: "data.mdb's free-page list is damaged: \(what)")
                }
                guard key.count == word else { throw damaged("a key of \(key.count) bytes") }
                guard value.count >= word, value.count % word == 0 else { throw damaged("a record of \(value.count) bytes") }
                let count = UInt64(value.loadUnaligned(fromByteOffset: 0, as: UInt.self))
                guard count <= UInt64(value.count / word - 1) else {
                    throw damaged("a record says \(count) pages but has room for \(value.count / word - 1)")
                }
                var previous = UInt64.max
                for i in 1..<(Int(count) + 1) {
                    let page = UInt64(value.loadUnaligned(fromByteOffset: i * word, as: UInt.self))
                    guard page >= 2, page <= lastPage, page < previous else {
                        throw damaged("page number \(page) is out of order or outside pages 2...\(lastPage)")
                    }
                    previous = page
                }
                return true
            }
        }
    }

    /// Checks the structure of every page reachable from the current snapshot (see `kmdb_env_verify`).
    func verifyStructure() throws {
        try lock.exclusive {
            guard let e = env else { throw Closed() }
            var reason = [CChar](repeating: 0, count: 256)
            let rc = kmdb_env_verify(e, &reason, reason.count)
            if rc == MDB_CORRUPTED {
                let text = reason.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                throw LMDBFailure(operation: "checking data.mdb", code: rc, detail: "data.mdb's page structure is damaged: \(text)")
            }
            try lmdbCheck(rc, "checking data.mdb")
        }
    }

    /// Opens (or with `create`, creates) a named database; nil when it does not exist.
    func openDatabase(_ name: String, in txn: Txn, create: Bool) throws -> MDB_dbi? {
        var dbi: MDB_dbi = 0
        let rc = kmdb_dbi_open(txn.handle, name, create ? UInt32(MDB_CREATE) : 0, &dbi)
        if rc == MDB_NOTFOUND { return nil }
        try lmdbCheck(rc, "mdb_dbi_open(\(name))")
        return dbi
    }
}

/// One transaction. Byte arrays in, byte arrays out; cursor scans hand out borrowed buffers
/// that are valid only inside the callback.
struct Txn {
    let handle: OpaquePointer

    func get(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> [UInt8]? {
        try key.withUnsafeBytes { kb in
            var k = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress))
            var v = MDB_val()
            let rc = kmdb_get(handle, dbi, &k, &v)
            if rc == MDB_NOTFOUND { return nil }
            try lmdbCheck(rc, "mdb_get")
            return Array(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
        }
    }

    /// Like `get`, but lends the value's bytes (inside the map) to `body` without copying.
    func withValue<T>(_ dbi: MDB_dbi, _ key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T? {
        try key.withUnsafeBytes { kb in
            var k = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress))
            var v = MDB_val()
            let rc = kmdb_get(handle, dbi, &k, &v)
            if rc == MDB_NOTFOUND { return nil }
            try lmdbCheck(rc, "mdb_get")
            return try body(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
        }
    }

    func put(_ dbi: MDB_dbi, _ key: [UInt8], _ value: [UInt8]) throws {
        // LMDB wants a non-null pointer even for an empty value.
        let padded = value.isEmpty ? [0] : value
        try key.withUnsafeBytes { kb in
            try padded.withUnsafeBytes { vb in
                var k = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress))
                var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: vb.baseAddress))
                try lmdbCheck(kmdb_put(handle, dbi, &k, &v, 0), "mdb_put")
            }
        }
    }

    /// Deletes a key; false when it was not there.
    @discardableResult
    func delete(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> Bool {
        try key.withUnsafeBytes { kb in
            var k = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress))
            let rc = kmdb_del(handle, dbi, &k, nil)
            if rc == MDB_NOTFOUND { return false }
            try lmdbCheck(rc, "mdb_del")
            return true
        }
    }

    func entryCount(_ dbi: MDB_dbi) throws -> Int {
        var stat = MDB_stat()
        try lmdbCheck(kmdb_stat(handle, dbi, &stat), "mdb_stat")
        return stat.ms_entries
    }

    /// Walks keys in order from the first key >= `start` (or the first key), until `body`
    /// returns false.
    func scan(
        _ dbi: MDB_dbi, from start: [UInt8]? = nil,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        var cursor: OpaquePointer?
        try lmdbCheck(kmdb_cursor_open(handle, dbi, &cursor), "mdb_cursor_open")
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val(), v = MDB_val()
        var startKey = start ?? []
        var rc: Int32 = startKey.withUnsafeMutableBytes { kb in
            if start == nil { return kmdb_cursor_get(cursor, &k, &v, MDB_FIRST) }
            k = MDB_val(mv_size: kb.count, mv_data: kb.baseAddress)
            return kmdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
        }
        while rc == 0 {
            let more = try body(
                UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size),
                UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
            if !more { return }
            rc = kmdb_cursor_get(cursor, &k, &v, MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { try lmdbCheck(rc, "mdb_cursor_get") }
    }
}
