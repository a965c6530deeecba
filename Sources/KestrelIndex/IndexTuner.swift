import CFaiss
import Foundation

/// What `tune` chose, and the recall it measured.
public struct TuningResult: Sendable, Equatable, Codable, CustomStringConvertible {
    /// "nprobe", "efSearch", or "none" for exhaustive types.
    public var parameter: String
    public var value: Int
    /// Mean recall@k of the chosen setting on the sample queries (self-matches excluded; a
    /// returned item that ties the k-th exact score counts as found).
    public var recall: Double
    public var recallTarget: Double
    public var k: Int
    public var sampleQueries: Int
    /// Vectors in the index when it was tuned (nil in files written before it was recorded). A
    /// tuning is stale once the index has grown or shrunk past a factor of 2 from it.
    public var itemCount: Int?
    /// Caller-supplied queries measured besides the sample queries (e.g. embeddings of real text
    /// prompts), nil when there were none. `recall` is then the lower of the two sets' recalls.
    public var callerQueries: Int?
    /// True when ties counted as found (tuned by Kestrel after session 17); nil in files written
    /// before, whose recall counted every tie between identical vectors as a miss.
    public var countsTies: Bool?
    public var reachedTarget: Bool { recall >= recallTarget }

    /// Whether the tuning should be measured again for an index now holding `count` vectors: it
    /// predates the recorded item count, the index has grown or shrunk past a factor of 2 since,
    /// or it missed its target when ties still counted as misses (an index of duplicate pictures
    /// was left at efSearch 4096 with a false warning; measuring again fixes both).
    public func isStale(count: Int) -> Bool {
        guard let tuned = itemCount, tuned > 0 else { return true }
        if !reachedTarget && countsTies != true { return true }
        return count > 2 * tuned || 2 * count < tuned
    }

    public var description: String {
        let setting = parameter == "none" ? "nothing to tune" : "\(parameter)=\(value)"
        let missed = reachedTarget ? "" : " (target not reached at the largest setting tried)"
        let caller = callerQueries.map { " and \($0) caller queries" } ?? ""
        return "\(setting): recall@\(k) \(String(format: "%.4f", recall)) on \(sampleQueries) sample queries\(caller), "
            + "target \(recallTarget)\(missed)"
    }
}

/// Where `tune` gets its sample queries.
public enum TuningQueries: Sendable {
    /// Half `jittered`, a quarter random unit directions and a quarter normalised mixes of two
    /// stored vectors: queries near the data and queries where text queries land.
    case automatic
    /// Stored vectors, each query's own id excluded from both exact and approximate lists (a
    /// stored vector finds itself trivially). Fair for IVF; optimistic for HNSW, whose greedy walk
    /// lands on the query's own node and reads its neighbour list (20k x 128 random vectors:
    /// efSearch tuned this way to 0.95 gave 0.92 on fresh queries).
    case storedVectors
    /// Stored vectors moved off themselves: q = s v + sqrt(1 - s^2) u, with u a random unit
    /// direction orthogonal to v and s the median nearest-neighbour similarity of the sample.
    /// v becomes an ordinary near neighbour of q, as a fresh query's nearest item is, so the
    /// graph walk gets no free ride; q stays in the data's own region.
    case jittered
    /// Caller-supplied queries (row-major), e.g. held-out vectors or real text queries.
    case given([Float])
}

extension VectorIndex {
    /// Picks the smallest nprobe (IVF) or efSearch (HNSW) whose recall@k against exact
    /// inner-product search reaches `recallTarget`, stores it in `searchParameters` and `tuning`
    /// (persisted by `save`), and returns it. See `TuningQueries` for how queries are drawn.
    ///
    /// Exact neighbours come from `reference` (the store's vectors, ids and rows in step) when
    /// given, else from the vectors reconstructed out of the index, which for PQ / SQ codes
    /// measures recall in the compressed space only.
    ///
    /// A setting passes when its sample recall is at least `recallTarget + margin` (capped at 1):
    /// the margin (0.02) covers the sampling error of ~500 queries (about 0.005), the gap between
    /// sample and fresh queries (0.007 for HNSW on 20k x 128 random vectors), and the run-to-run
    /// spread of multithreaded HNSW builds (a fresh-query recall of 0.9475 at margin 0.01 was seen).
    /// The search doubles the parameter until it passes, then bisects down to within about 5%.
    /// Flat-type indexes are measured but have nothing to tune.
    ///
    /// `extraQueries` (row-major, a multiple of `dimension` floats) are measured as a second set
    /// beside the sample queries, and a setting passes only when both sets reach the target: a
    /// caller that knows what real queries look like (text embeddings of a multimodal model land
    /// apart from the image vectors they are compared with) passes a few dozen of them.
    @discardableResult
    public func tune(
        recallTarget: Double = 0.95, sampleQueries: Int = 500, k: Int = 10,
        reference: (ids: [Int64], vectors: [Float])? = nil, queries source: TuningQueries = .automatic,
        extraQueries: [Float] = [], margin: Double = 0.02
    ) throws -> TuningResult {
        try IndexTuner.checkRecallTarget(recallTarget)
        guard sampleQueries >= 1, k >= 1 else {
            throw IndexError.invalidArgument("sampleQueries and k must be at least 1, got \(sampleQueries) and \(k)")
        }
        guard margin.isFinite, margin >= 0 else { throw IndexError.invalidArgument("margin must be finite and >= 0, got \(margin)") }
        guard extraQueries.count % dimension == 0 else {
            throw IndexError.shapeMismatch(expectedFloats: (extraQueries.count / dimension + 1) * dimension, gotFloats: extraQueries.count)
        }
        let (refIDs, refVectors) = try reference ?? reconstructAll()
        try checkShape(refVectors, count: refIDs.count)
        let n = refIDs.count
        guard n > 1 else { throw IndexError.invalidArgument("tuning needs at least 2 stored vectors, have \(n)") }
        let kk = min(k, n - 1)
        var queries = [Float]()
        var queryIDs = [Int64]()  // self ids to exclude (stored-vector queries only)
        func row(_ r: Int) -> ArraySlice<Float> { refVectors[(r * dimension)..<((r + 1) * dimension)] }
        var random = SplitMix(seed: 0x4B45_5354_524C)
        func unit(_ v: [Float]) -> [Float] {
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? v.map { $0 / norm } : v
        }
        /// `count` stored rows moved off themselves (see `TuningQueries.jittered`).
        func jittered(_ count: Int) throws -> [Float] {
            let q = min(count, n)
            guard q > 0 else { return [] }
            var stored = [Float]()
            for i in 0..<q { stored += row(i * n / q) }
            var top = [Float](repeating: 0, count: q * 2)
            var topRows = [Int64](repeating: -1, count: q * 2)
            try check(cfaiss_knn_exact(Int32(dimension), Int64(q), stored, Int64(n), refVectors, 2, &top, &topRows))
            let s = min(1, max(-1, (0..<q).map { top[$0 * 2 + 1] }.sorted()[q / 2]))  // median non-self top-1 similarity
            var out = [Float]()
            for i in 0..<q {
                let v = Array(stored[(i * dimension)..<((i + 1) * dimension)])
                var u = (0..<dimension).map { _ in random.gaussian() }
                let along = zip(u, v).reduce(0) { $0 + $1.0 * $1.1 }
                u = zip(u, v).map { $0 - along * $1 }
                let norm = u.reduce(0) { $0 + $1 * $1 }.squareRoot()
                let c = (1 - s * s).squareRoot() / max(norm, 1e-12)
                out += zip(v, u).map { s * $0 + c * $1 }
            }
            return out
        }
        switch source {
        case .given(let vectors):
            guard vectors.count % dimension == 0, !vectors.isEmpty else {
                throw IndexError.shapeMismatch(expectedFloats: (vectors.count / dimension + 1) * dimension, gotFloats: vectors.count)
            }
            queries = vectors
        case .jittered:
            queries = try jittered(sampleQueries)
        case .automatic:
            // Half near the data (jittered stored vectors), half the way text queries are: away
            // from every stored vector (random directions) or between them (normalised mixes of
            // two stored rows). A search by text lands in a region the stored vectors do not
            // occupy, where graph walks and inverted lists are least reliable.
            let total = max(4, sampleQueries)
            let near = min(total / 2, n), away = (total - near) / 2, between = total - near - away
            queries = try jittered(near)
            for _ in 0..<away { queries += unit((0..<dimension).map { _ in random.gaussian() }) }
            for _ in 0..<between {
                let a = Int(random.next() % UInt64(n)), b = Int(random.next() % UInt64(n))
                queries += unit(zip(row(a), row(b)).map { $0 + $1 + 0.1 * random.gaussian() })
            }
        case .storedVectors:
            let q = min(sampleQueries, n)
            for i in 0..<q {
                queryIDs.append(refIDs[i * n / q])
                queries += row(i * n / q)
            }
        }
        let q = queries.count / dimension

        // Built on the first tie only (most tunings never meet one).
        var rowOfIDCache: [Int64: Int]?
        func rowOfID(_ id: Int64) -> Int? {
            if rowOfIDCache == nil { rowOfIDCache = Dictionary(refIDs.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first }) }
            return rowOfIDCache![id]
        }
        let level = cfaiss_simd_level()
        /// Recall@kk of one query set against exact search over the reference rows (a query's
        /// own id, when given, left out of both lists). Ties count as found: a returned id whose
        /// exact score reaches the k-th exact score (to float rounding) is as good as a listed id
        /// that ties it, which exact search happened to list (but not as good as a listed id that
        /// scores above the k-th: those must be found themselves). Identical vectors under different ids (the same picture in two
        /// files) tie, and which of them exact search lists first is arbitrary; counting only ids
        /// made every tie a miss, so recall stayed low at any setting.
        func recallMeter(_ queries: [Float], selfIDs: [Int64]) throws -> (SearchParameters) throws -> Double {
            let q = queries.count / dimension
            let excludeSelf = !selfIDs.isEmpty
            let fetch = excludeSelf ? kk + 1 : kk
            var scores = [Float](repeating: 0, count: q * fetch)
            var rows = [Int64](repeating: -1, count: q * fetch)
            try check(cfaiss_knn_exact(Int32(dimension), Int64(q), queries, Int64(n), refVectors, Int64(fetch), &scores, &rows))
            var truth = [Set<Int64>](), kthRow = [Int]()
            for i in 0..<q {
                let listed = (0..<fetch).map { i * fetch + $0 }.filter { rows[$0] >= 0 }
                    .filter { !excludeSelf || refIDs[Int(rows[$0])] != selfIDs[i] }.prefix(kk)
                truth.append(Set(listed.map { refIDs[Int(rows[$0])] }))
                kthRow.append(listed.last.map { Int(rows[$0]) } ?? -1)
            }
            /// Exact score of reference row r for query i. The k-th score and a tied candidate's go
            /// through this one routine, so identical vectors tie bit for bit.
            func exactScore(_ i: Int, row r: Int) -> Float {
                queries.withUnsafeBufferPointer { qp in
                    refVectors.withUnsafeBufferPointer { rp in
                        cfaiss_inner_product(level, qp.baseAddress! + i * dimension, rp.baseAddress! + r * dimension, Int64(dimension))
                    }
                }
            }
            return { parameters in
                let hits = try self.search(queries, count: q, k: fetch, parameters: parameters)
                var found = 0, total = 0
                for i in 0..<q {
                    let got = hits[i].map(\.id).filter { !excludeSelf || $0 != selfIDs[i] }.prefix(kk)
                    total += truth[i].count
                    guard kthRow[i] >= 0, got.contains(where: { !truth[i].contains($0) }) else {
                        found += got.filter { truth[i].contains($0) }.count
                        continue
                    }
                    // A tie can stand in only for a listed neighbour that ties the k-th score too:
                    // the neighbours that score above it must be found themselves.
                    let kth = exactScore(i, row: kthRow[i])
                    let tolerance = 1e-6 * max(1, abs(kth))  // float rounding of a near-tie between distinct vectors
                    func score(_ id: Int64) -> Float? { rowOfID(id).map { exactScore(i, row: $0) } }
                    let above = Set(truth[i].filter { (score($0) ?? kth) > kth + tolerance })
                    let tieSlots = truth[i].count - above.count
                    let foundAbove = got.filter { above.contains($0) }.count
                    let foundTies = got.filter { id in
                        !above.contains(id) && (truth[i].contains(id) || (score(id).map { $0 >= kth - tolerance } ?? false))
                    }.count
                    found += foundAbove + min(foundTies, tieSlots)
                }
                return total == 0 ? 1 : Double(found) / Double(total)
            }
        }
        let sampleRecall = try recallMeter(queries, selfIDs: queryIDs)
        let callerCount = extraQueries.count / dimension
        let callerRecall = callerCount > 0 ? try recallMeter(extraQueries, selfIDs: []) : nil
        /// The lower of the two sets' recalls.
        func recall(_ parameters: SearchParameters) throws -> Double {
            let sample = try sampleRecall(parameters)
            guard let callerRecall else { return sample }
            return min(sample, try callerRecall(parameters))
        }

        let name: String
        let limit: Int
        let start: Int
        let make: (Int) -> SearchParameters
        let current = searchParameters
        switch kind {
        case .flat:
            var result = TuningResult(
                parameter: "none", value: 0, recall: try recall(current), recallTarget: recallTarget, k: kk, sampleQueries: q)
            result.itemCount = count
            result.countsTies = true
            result.callerQueries = callerCount > 0 ? callerCount : nil
            setTuning(result, parameters: current)
            return result
        case .ivf:
            name = "nprobe"
            limit = max(1, listCount)
            start = 1
            make = { SearchParameters(nprobe: $0, efSearch: current.efSearch) }
        case .hnsw:
            name = "efSearch"
            limit = max(4096, 2 * kk)
            start = max(16, kk)
            make = { SearchParameters(nprobe: current.nprobe, efSearch: $0) }
        }

        let required = min(1, recallTarget + margin)
        var measured: [Int: Double] = [:]
        func passes(_ v: Int) throws -> Bool {
            if measured[v] == nil { measured[v] = try recall(make(v)) }
            return measured[v]! >= required
        }
        // Double until the target is reached (or the limit is hit)...
        // HNSW: efSearch below k (or the minimum) is never used by a search; do not report it.
        var low = kind == .hnsw ? max(kk, IndexPlanner.minimumEfSearch) - 1 : 0, high = start
        while try !passes(high) {
            guard high < limit else { break }
            low = high
            high = min(limit, high * 2)
        }
        // ...then bisect for the smallest passing value, to ~5% granularity.
        if measured[high]! >= required {
            while high - low > max(1, low / 20) {
                let mid = (low + high) / 2
                if try passes(mid) { high = mid } else { low = mid }
            }
        }
        var result = TuningResult(
            parameter: name, value: high, recall: measured[high]!, recallTarget: recallTarget, k: kk, sampleQueries: q)
        result.itemCount = count
        result.countsTies = true
        result.callerQueries = callerCount > 0 ? callerCount : nil
        setTuning(result, parameters: make(high))
        return result
    }

    /// Ids and stored vectors, reconstructed from the index.
    func reconstructAll() throws -> (ids: [Int64], vectors: [Float]) {
        let all = ids
        var vectors = [Float](repeating: 0, count: all.count * dimension)
        try locked {
            try vectors.withUnsafeMutableBufferPointer { buffer in
                for (row, id) in all.enumerated() {
                    try check(cfaiss_reconstruct(handle, id, buffer.baseAddress! + row * dimension))
                }
            }
        }
        return (all, vectors)
    }
}

/// SplitMix64 with Box-Muller, for reproducible tuning queries.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func gaussian() -> Float {
        let a = (Double(next() >> 11) + 0.5) / Double(1 << 53), b = Double(next() >> 11) / Double(1 << 53)
        return Float((-2 * log(a)).squareRoot() * cos(2 * Double.pi * b))
    }
}
