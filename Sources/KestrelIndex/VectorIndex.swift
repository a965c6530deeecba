import CFaiss
import Foundation
import KestrelFiles

/// Per-query knobs of the approximate index types. `nil` means "the index's chosen value".
public struct SearchParameters: Sendable, Equatable, Codable {
    /// IVF: inverted lists probed per query.
    public var nprobe: Int?
    /// HNSW: size of the dynamic candidate list.
    public var efSearch: Int?
    public init(nprobe: Int? = nil, efSearch: Int? = nil) {
        self.nprobe = nprobe
        self.efSearch = efSearch
    }

    /// Throws `IndexError.invalidArgument` unless each value given is in 1...Int32.max (FAISS's range).
    public func check() throws {
        for (name, value) in [("nprobe", nprobe), ("efSearch", efSearch)] {
            if let value, !(1...Int(Int32.max)).contains(value) {
                throw IndexError.invalidArgument("\(name) must be between 1 and \(Int32.max), got \(value)")
            }
        }
    }
}

/// The index family behind a factory string, as FAISS built it.
public enum IndexKind: String, Sendable, Codable {
    /// Exhaustive scan of full or compressed codes ("Flat", "SQ8", "PQ64"): nothing to tune.
    case flat
    /// Graph search ("HNSW32,Flat"): efSearch trades speed for recall. Removal = tombstones.
    case hnsw
    /// Inverted lists ("IVF1024,Flat", "IVF1024,PQ64"): nprobe trades speed for recall.
    case ivf
}

/// A FAISS inner-product index over L2-normalised float32 vectors with stable Int64 ids.
///
/// It knows nothing about models or the store. Callers keep `coveredSequence` equal to the store
/// log sequence the index reflects, so a stale index can be detected and rebuilt.
/// Searches share a readers-writer lock and run concurrently; every other call takes it
/// exclusively. FAISS parallelises each call with OpenMP.
public final class VectorIndex: @unchecked Sendable {
    public let dimension: Int
    /// The FAISS factory string the index was built from (aliases already resolved).
    public let factory: String
    public let kind: IndexKind
    /// Store log sequence this index is up to date with (set by callers, persisted).
    public var coveredSequence: UInt64 {
        get { reading { storedSequence } }
        set { locked { storedSequence = newValue } }
    }
    /// The nprobe / efSearch used when a search passes no parameters (set by `tune`, persisted).
    public var searchParameters: SearchParameters {
        get { reading { parameters } }
        set { locked { parameters = newValue } }
    }
    /// Which data the index was built from (set by callers, persisted; opaque here).
    public var storeID: String? {
        get { reading { source } }
        set { locked { source = newValue } }
    }
    /// A digest of that data's history up to `coveredSequence` (set by callers, persisted;
    /// opaque here).
    public var storeLogChain: String? {
        get { reading { history } }
        set { locked { history = newValue } }
    }
    /// The last tuning outcome (persisted), `nil` if never tuned.
    public var tuning: TuningResult? { reading { tuned } }

    let handle: OpaquePointer
    let efConstruction: Int?
    /// Prefers writers: a steady stream of searches cannot starve a change. Not recursive: a
    /// holder must not take it again.
    private let rw = ReadWriteLock(preferWriters: true)
    private var storedSequence: UInt64 = 0
    private var parameters: SearchParameters
    private var tuned: TuningResult?
    private var source: String?
    private var history: String?

    init(handle: OpaquePointer, factory: String, efConstruction: Int?, parameters: SearchParameters) {
        self.handle = handle
        self.dimension = Int(cfaiss_dimension(handle))
        self.factory = factory
        self.efConstruction = efConstruction
        switch cfaiss_kind(handle) {
        case Int32(CFAISS_KIND_HNSW): kind = .hnsw
        case Int32(CFAISS_KIND_IVF): kind = .ivf
        default: kind = .flat
        }
        self.parameters = parameters
    }

    deinit { cfaiss_free(handle) }

    /// Creates an empty index. `factory` is a FAISS factory string ("Flat", "HNSW32,Flat",
    /// "IVF1024,Flat", "IVF1024,PQ64", "SQ8") or an alias (flat, hnsw, ivf, ivfpq, sq8); aliases
    /// that need sizes take them from `expectedCount`. Use `IndexPlanner.plan` to choose one.
    public static func create(dimension: Int, factory: String, expectedCount: Int? = nil) throws -> VectorIndex {
        let plan = try IndexPlanner.resolve(factory: factory, count: expectedCount, dimension: dimension)
        return try create(dimension: dimension, plan: plan)
    }

    /// Creates an empty index from a planner decision.
    public static func create(dimension: Int, plan: IndexPlan) throws -> VectorIndex {
        guard dimension > 0, dimension <= Int(Int32.max) else {
            throw IndexError.invalidArgument("dimension must be between 1 and \(Int32.max), got \(dimension)")
        }
        try IndexPlanner.validate(factory: plan.factory, dimension: dimension)
        var raw: OpaquePointer?
        let status = cfaiss_create(Int32(dimension), plan.factory, Int32(plan.efConstruction ?? 0), &raw)
        guard status == CFAISS_OK, let raw else {
            throw IndexError.unknownFactory(
                plan.factory, reason: "FAISS cannot make it at dimension \(dimension): \(String(cString: cfaiss_last_error()))")
        }
        return VectorIndex(
            handle: raw, factory: plan.factory, efConstruction: plan.efConstruction, parameters: plan.defaultParameters)
    }

    /// Checks that `factory` (an alias or a supported factory string, see
    /// `IndexPlanner.supportedForms`) makes an index at `dimension`, by having FAISS make an
    /// empty one and dropping it: no training, no vectors, so it is cheap. Throws
    /// `IndexError.unknownFactory` in Kestrel's words (FAISS's C++ wrapping removed).
    public static func checkFactory(_ factory: String, dimension: Int) throws {
        // Aliases sized by the collection are checked at a nominal size; their strings always parse.
        _ = try create(dimension: dimension, factory: factory, expectedCount: 1_000)
    }

    /// Sets how many OpenMP threads FAISS uses (<= 0 keeps the current value); returns the count in effect.
    @discardableResult
    public static func setThreadCount(_ n: Int) -> Int { Int(cfaiss_set_num_threads(Int32(n))) }

    /// The share of a full HNSW neighbour list that the graph build leaves free when a reverse
    /// link makes the list prune (FAISS's `HNSW::prune_headroom`, facebookresearch/faiss#4847,
    /// FAISS >= 1.14.2). Default 0.2, later FAISS's: a level-0 list of 64 is pruned to 51, so the
    /// next reverse links are appended instead of each pruning again (the O(M^2) distances that
    /// were 83% of a build's work). 0 gives the graph Debian's FAISS 1.7.3 builds. Applies to
    /// `HNSW*,Flat` adds on the shim's fast storage (`DistanceCode` above `.faiss`), including
    /// adds to an index read from a file; `HNSW*,SQ*` and `HNSW*,PQ*` use FAISS's own build, which
    /// has no headroom. Lists of fewer than 16 slots (M < 8 at level 0, M < 16 above) always
    /// prune to capacity: their pruning is cheap and the headroom cost recall there. Files are
    /// FAISS's format either way. See docs/benchmarks.md ("HNSW build").
    public static var hnswPruneHeadroom: Float { cfaiss_hnsw_prune_headroom() }

    /// Test and benchmark hook: sets `hnswPruneHeadroom` process-wide (clamped to 0...0.5, NaN
    /// gives 0) and returns the value in effect. Not for use while other threads add to HNSW indexes.
    @discardableResult
    public static func setHNSWPruneHeadroom(_ headroom: Float) -> Float { cfaiss_set_hnsw_prune_headroom(headroom) }

    // MARK: - Contents

    /// Live vectors in the index.
    public var count: Int { reading { Int(cfaiss_ntotal(handle)) } }
    public var isTrained: Bool { reading { cfaiss_is_trained(handle) != 0 } }
    /// Inverted lists of an IVF index, 0 otherwise.
    public var listCount: Int { reading { Int(cfaiss_nlist(handle)) } }

    /// Live ids, in insertion order.
    public var ids: [Int64] {
        locked {
            let n = Int(cfaiss_ntotal(handle))
            return [Int64](unsafeUninitializedCapacity: n) { buffer, initialized in
                cfaiss_ids(handle, buffer.baseAddress)
                initialized = n
            }
        }
    }

    public func contains(_ id: Int64) -> Bool { reading { cfaiss_contains(handle, id) != 0 } }

    /// The stored vector of `id` (exact for Flat / HNSW,Flat / IVF,Flat; decoded for PQ / SQ).
    public func reconstruct(id: Int64) throws -> [Float] {
        try locked {
            var out = [Float](repeating: 0, count: dimension)
            try check(cfaiss_reconstruct(handle, id, &out))
            return out
        }
    }

    // MARK: - Building

    /// Trains IVF / PQ / SQ quantisers on `count` row-major vectors (a no-op for Flat and HNSW,Flat).
    public func train(_ vectors: [Float], count: Int) throws {
        try checkShape(vectors, count: count)
        try locked { try check(cfaiss_train(handle, Int64(count), vectors)) }
    }

    /// Trains on a deterministic, evenly strided sample of `vectors` of the size FAISS recommends
    /// for this factory (`IndexPlanner.trainingSampleSize`). Does nothing if already trained.
    public func train(sampleFrom vectors: [Float], count: Int) throws {
        try checkShape(vectors, count: count)
        guard !isTrained else { return }
        let want = IndexPlanner.trainingSampleSize(factory: factory, count: count)
        if want >= count { return try train(vectors, count: count) }
        var sample = [Float]()
        sample.reserveCapacity(want * dimension)
        for i in 0..<want {
            let row = Int((Double(i) * Double(count) / Double(want)).rounded(.down))
            sample.append(contentsOf: vectors[(row * dimension)..<((row + 1) * dimension)])
        }
        try train(sample, count: want)
    }

    /// Adds vectors under caller-chosen ids (>= 0, not already present). All or nothing.
    public func add(ids: [Int64], vectors: [Float]) throws {
        try checkShape(vectors, count: ids.count)
        try locked {
            guard cfaiss_is_trained(handle) != 0 else { throw IndexError.notTrained(factory: factory) }
            try check(cfaiss_add_with_ids(handle, Int64(ids.count), vectors, ids))
        }
    }

    /// Removes ids (unknown ones are ignored); returns how many were removed.
    /// Flat / SQ / PQ compact their storage; IVF removes from its lists; HNSW tombstones them
    /// (hidden at search time) and rebuilds its graph once tombstones reach half the graph.
    @discardableResult
    public func remove(ids: [Int64]) throws -> Int {
        try locked {
            var removed: Int64 = 0
            try check(cfaiss_remove_ids(handle, Int64(ids.count), ids, &removed))
            return Int(removed)
        }
    }

    /// Rebuilds an HNSW graph without its tombstones (no-op for other kinds).
    public func compact() throws { try locked { try check(cfaiss_compact(handle)) } }

    // MARK: - Search

    /// The `k` best ids by inner product for each of `count` row-major queries, best first.
    /// Rows hold fewer than `k` hits only when the index (or the allow-list) holds fewer than
    /// `k` live vectors. `allowedIDs` restricts the results; allow-lists of up to 4096 ids are
    /// ranked exactly over their stored vectors. `parameters` overrides `searchParameters` for
    /// this call. Whatever the parameters say, an HNSW search explores at least `k` candidates
    /// (efSearch >= max(k, `IndexPlanner.minimumEfSearch`), so k = 1 and k = 10 walk the graph
    /// alike), and a row that comes back short is searched again with twice the
    /// efSearch / nprobe until it is full or the whole index has been explored.
    /// Throws for k < 1 and for an explicit nprobe / efSearch outside 1...Int32.max; a k above
    /// the index size is clamped to it before any buffer is sized by it.
    /// Searches run concurrently with each other; changes to the index wait for them.
    public func search(
        _ queries: [Float], count: Int, k requested: Int, allowedIDs: Set<Int64>? = nil, parameters: SearchParameters? = nil
    ) throws -> [[(id: Int64, score: Float)]] {
        try checkShape(queries, count: count)
        guard requested > 0 else { throw IndexError.invalidArgument("k must be at least 1, got \(requested)") }
        if count == 0 { return [] }
        if let parameters { try parameters.check() }
        let k = requested
        let allowed = allowedIDs.map { Array($0) }
        let explicit = parameters
        // FAISS 1.7.3 reads an HNSW search's efSearch from the index itself (see cfaiss.cpp):
        // searches with the efSearch it holds share the lock, any other takes it alone.
        if kind == .hnsw {
            let fast: [[(id: Int64, score: Float)]]? = try rw.shared {
                let plan = searchPlan(k: k, allowed: allowed, explicit)
                guard Int(cfaiss_hnsw_ef_search(handle)) == plan.parameters.efSearch else { return nil }
                let rows = try searchOnce(queries, count: count, k: plan.k, allowed: allowed, plan.parameters)
                return rows.contains { $0.count < plan.reachable } ? nil : rows
            }
            if let fast { return fast }
            return try rw.exclusive { try searchGrowing(queries, count: count, k: k, allowed: allowed, explicit) }
        }
        return try rw.shared { try searchGrowing(queries, count: count, k: k, allowed: allowed, explicit) }
    }

    /// The k to ask FAISS for, the row length a full answer has, and the parameters to start with.
    private func searchPlan(k: Int, allowed: [Int64]?, _ explicit: SearchParameters?)
        -> (k: Int, reachable: Int, parameters: SearchParameters)
    {
        let live = Int(cfaiss_ntotal(handle))
        let kk = min(k, max(live, 1))  // no point asking FAISS for more than it holds
        let reachable = allowed.map { a in min(kk, a.count) } ?? kk
        var p = explicit ?? self.parameters
        if kind == .hnsw { p.efSearch = max(p.efSearch ?? IndexPlanner.defaultEfSearch, kk, IndexPlanner.minimumEfSearch) }
        if kind == .ivf { p.nprobe = min(max(p.nprobe ?? 1, 1), max(Int(cfaiss_nlist(handle)), 1)) }
        return (kk, reachable, p)
    }

    /// Searches, growing efSearch / nprobe while a row is short (caller holds the lock).
    private func searchGrowing(
        _ queries: [Float], count: Int, k: Int, allowed: [Int64]?, _ explicit: SearchParameters?
    ) throws -> [[(id: Int64, score: Float)]] {
        let (kk, reachable, start) = searchPlan(k: k, allowed: allowed, explicit)
        var p = start
        let live = Int(cfaiss_ntotal(handle)), lists = Int(cfaiss_nlist(handle))
        while true {
            let rows = try searchOnce(queries, count: count, k: kk, allowed: allowed, p)
            let short = rows.contains { $0.count < reachable }
            if short, kind == .hnsw, let ef = p.efSearch, ef < live {
                p.efSearch = min(ef * 2, live)
                continue
            }
            if short, kind == .ivf, let probes = p.nprobe, probes < lists {
                p.nprobe = min(probes * 2, lists)
                continue
            }
            return rows
        }
    }

    /// One FAISS search with fixed parameters (caller holds the lock).
    private func searchOnce(
        _ queries: [Float], count: Int, k: Int, allowed: [Int64]?, _ p: SearchParameters
    ) throws -> [[(id: Int64, score: Float)]] {
        var scores = [Float](repeating: 0, count: count * k)
        var labels = [Int64](repeating: -1, count: count * k)
        let status: Int32
        if let allowed {
            status = allowed.withUnsafeBufferPointer { a in
                cfaiss_search(
                    handle, Int64(count), queries, Int64(k), Int32(clamping: p.nprobe ?? 0), Int32(clamping: p.efSearch ?? 0),
                    a.baseAddress ?? UnsafePointer(bitPattern: 8), Int64(a.count), &scores, &labels)
            }
        } else {
            status = cfaiss_search(
                handle, Int64(count), queries, Int64(k), Int32(clamping: p.nprobe ?? 0), Int32(clamping: p.efSearch ?? 0),
                nil, 0, &scores, &labels)
        }
        try check(status)
        return (0..<count).map { q in
            (0..<k).compactMap { j -> (id: Int64, score: Float)? in
                let label = labels[q * k + j]
                return label < 0 ? nil : (id: label, score: scores[q * k + j])
            }
        }
    }

    // MARK: - Internals

    /// Shared access: calls that only read the index.
    func reading<T>(_ body: () throws -> T) rethrows -> T { try rw.shared(body) }

    /// Exclusive access: every call that changes the index (or its bookkeeping).
    func locked<T>(_ body: () throws -> T) rethrows -> T { try rw.exclusive(body) }

    func setTuning(_ result: TuningResult, parameters newParameters: SearchParameters) {
        locked {
            tuned = result
            parameters = newParameters
        }
    }

    func restore(sequence: UInt64, tuning: TuningResult?) {
        locked {
            storedSequence = sequence
            tuned = tuning
        }
    }

    func checkShape(_ vectors: [Float], count: Int) throws {
        guard count >= 0 else { throw IndexError.invalidArgument("count must be >= 0, got \(count)") }
        guard vectors.count == count * dimension else {
            if count == 1 { throw IndexError.dimensionMismatch(expected: dimension, got: vectors.count) }
            throw IndexError.shapeMismatch(expectedFloats: count * dimension, gotFloats: vectors.count)
        }
    }
}

/// Throws the shim's last error for a non-OK status.
func check(_ status: Int32) throws {
    guard status != CFAISS_OK else { return }
    let message = String(cString: cfaiss_last_error())
    if status == CFAISS_ERR_ARGUMENT { throw IndexError.invalidArgument(message) }
    throw IndexError.faiss(code: status, message: message)
}

