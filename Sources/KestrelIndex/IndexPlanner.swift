import Foundation

/// A decision about which FAISS index to build, and why.
public struct IndexPlan: Sendable, Equatable {
    /// FAISS factory string, e.g. "HNSW32,Flat".
    public var factory: String
    /// Vectors to train on (0: the type needs no training). See `IndexPlanner.trainingSampleSize`.
    public var trainingSampleSize: Int
    /// Estimated resident bytes for `count` vectors.
    public var estimatedBytes: Int
    /// HNSW graph build breadth (nil: not HNSW).
    public var efConstruction: Int?
    /// nprobe / efSearch to use until `tune` picks better ones.
    public var defaultParameters: SearchParameters
    /// One line for the CLI: what was chosen and why.
    public var reason: String
}

/// Chooses an index type from collection size and memory budget, and resolves factory aliases.
///
/// - Flat below `flatLimit` (50k): exact answers, no training or tuning, and a query scans
///   50k x 512 x 4 B = 100 MB, about 10 ms at memory bandwidth on one core: fast enough for
///   interactive search, so approximation buys nothing worth its recall loss.
/// - HNSW32,Flat up to `hnswLimit` (1M): no training, incremental adds, the best latency at a
///   given recall in this range; costs ~270 B/vector of graph on top of the vectors.
/// - IVF{4 sqrt(n)},Flat beyond: cheap adds, small overhead, graph build time no longer grows with n.
/// - When the budget is too small for full vectors: SQ8 (d bytes/vector), then PQ (m bytes).
public enum IndexPlanner {
    public static let flatLimit = 50_000
    public static let hnswLimit = 1_000_000
    public static let hnswM = 32
    /// FAISS's default (40) builds a weak graph on unstructured 512-d data; 80 is a better trade.
    public static let hnswEfConstruction = 80
    public static let defaultEfSearch = 128
    /// The least efSearch a search uses (FAISS's own default): below it a graph walk is a
    /// greedy descent whose first result depends on k.
    public static let minimumEfSearch = 16
    /// Per-vector bookkeeping outside FAISS: slot table and id hash map.
    static let idOverhead = 48

    /// Plans an index for `count` vectors of `dimension` floats within `memoryBudget` bytes (nil: unlimited).
    public static func plan(count: Int, dimension d: Int, memoryBudget: Int? = nil) -> IndexPlan {
        let n = max(count, 0)
        let budget = memoryBudget ?? Int.max
        let nlist = ivfListCount(for: n)
        var candidates: [String] = []
        if n < flatLimit {
            candidates = ["Flat", "SQ8", "IVF\(nlist),PQ\(pqSubquantizers(dimension: d))"]
        } else if n < hnswLimit {
            candidates = ["HNSW\(hnswM),Flat", "IVF\(nlist),Flat", "IVF\(nlist),SQ8"]
        } else {
            candidates = ["IVF\(nlist),Flat", "IVF\(nlist),SQ8"]
        }
        // PQ fallbacks, most accurate (largest m) first.
        for m in [d / 4, d / 8, d / 16, d / 32] where m >= 1 && d % m == 0 && !candidates.contains("IVF\(nlist),PQ\(m)") {
            candidates.append("IVF\(nlist),PQ\(m)")
        }
        let fitting = candidates.first { estimatedBytes(factory: $0, count: n, dimension: d) <= budget }
        let factory = fitting ?? candidates.last!
        var plan = resolvedPlan(factory: factory, count: n, dimension: d)
        let size = n < flatLimit ? "fewer than \(flatLimit)" : n < hnswLimit ? "\(flatLimit)-\(hnswLimit)" : "at least \(hnswLimit)"
        let mb = plan.estimatedBytes / 1_000_000
        if factory == candidates[0] {
            plan.reason = "\(factory): \(n) vectors is \(size) (about \(mb) MB)"
        } else if fitting != nil {
            plan.reason = "\(factory): \(candidates[0]) would not fit the memory budget; this needs about \(mb) MB"
        } else {
            plan.reason = "\(factory): smallest choice, still over the memory budget (about \(mb) MB)"
        }
        return plan
    }

    /// Resolves an explicit FAISS factory string or a friendly alias (flat, hnsw, ivf, ivfpq,
    /// ivfsq8, sq8); aliases that need sizes derive them from `count` (required for ivf/ivfpq).
    /// Throws `IndexError.unknownFactory` for an empty string or an out-of-range number
    /// (`validate(factory:dimension:)`), before any FAISS call.
    public static func resolve(factory: String, count: Int?, dimension d: Int) throws -> IndexPlan {
        let spec = factory.trimmingCharacters(in: .whitespaces)
        guard !spec.isEmpty else { throw IndexError.unknownFactory(factory, reason: "empty factory string") }
        func needCount() throws -> Int {
            guard let count, count > 0 else {
                throw IndexError.unknownFactory(factory, reason: "the '\(spec)' alias needs the collection size to size its lists")
            }
            return count
        }
        let resolved: String
        switch spec.lowercased() {
        case "flat": resolved = "Flat"
        case "hnsw": resolved = "HNSW\(hnswM),Flat"
        case "sq8": resolved = "SQ8"
        case "ivf": resolved = "IVF\(ivfListCount(for: try needCount())),Flat"
        case "ivfsq8": resolved = "IVF\(ivfListCount(for: try needCount())),SQ8"
        case "ivfpq": resolved = "IVF\(ivfListCount(for: try needCount())),PQ\(pqSubquantizers(dimension: d))"
        default:
            // FAISS's spelling of a supported form ("hnsw48" is "HNSW48,Flat"), checked.
            resolved = try canonicalFactory(spec, dimension: d)
        }
        try validate(factory: resolved, dimension: d)
        var plan = resolvedPlan(factory: resolved, count: count ?? 0, dimension: d)
        plan.reason = resolved == spec ? "\(resolved): requested" : "\(resolved): from '\(spec)'"
        return plan
    }

    /// About 4 sqrt(n) inverted lists, but at most n / 39 so every list gets FAISS's minimum of
    /// 39 training points.
    public static func ivfListCount(for n: Int) -> Int {
        let lists = Int((4 * Double(max(n, 1)).squareRoot()).rounded())
        return max(1, min(lists, n / 39))
    }

    /// Default PQ code size: d/8 bytes per vector (64 for d = 512), a divisor of d.
    public static func pqSubquantizers(dimension d: Int) -> Int {
        var m = max(1, d / 8)
        while m > 1 && d % m != 0 { m -= 1 }
        return m
    }

    /// FAISS guidance: k-means wants 30-256 points per centroid and warns below 39. IVF trains on
    /// 50 per list; PQ codebooks (2^bits centroids each, 256 by default) need 39 x 2^bits; SQ only needs ranges.
    /// Capped at `count` and at 1M. 0 when the type needs no training.
    public static func trainingSampleSize(factory: String, count: Int) -> Int {
        let parts = factory.uppercased().split(separator: ",").map(String.init)
        var want = 0
        for part in parts {
            if part.hasPrefix("IVF"), let nlist = Int(part.dropFirst(3).prefix { $0.isNumber }) {
                want = max(want, 50 * nlist)
            } else if part.hasPrefix("PQ") || part.hasPrefix("OPQ") {
                // 39 points per centroid of each sub-quantizer's 2^bits (8 bits unless PQmxb).
                let bits = part.hasPrefix("PQ") ? part.firstIndex(of: "X").flatMap { Int(part[part.index(after: $0)...].prefix { $0.isNumber }) } ?? 8 : 8
                want = max(want, 39 << min(bits, 24))
            } else if part.hasPrefix("SQ") || part.hasPrefix("PCA") {
                want = max(want, 65_536)
            }
        }
        return min(want, max(count, 0), 1_000_000)
    }

    /// Rough resident size of `count` vectors in `factory`, including Kestrel's id tables.
    public static func estimatedBytes(factory: String, count n: Int, dimension d: Int) -> Int {
        let parts = factory.uppercased().split(separator: ",").map(String.init)
        var perVector = idOverhead
        var fixed = 0
        for part in parts {
            if part.hasPrefix("IVF"), let nlist = Int(part.dropFirst(3).prefix { $0.isNumber }) {
                perVector += 8 + 40  // list entry id + direct-map hashtable entry
                fixed += nlist * d * 4
            } else if part.hasPrefix("HNSW") {
                let m = Int(part.dropFirst(4).prefix { $0.isNumber }) ?? hnswM
                perVector += 2 * m * 4 + m * 4 / 2 + 16  // level-0 links, upper levels, offsets
            } else if part == "FLAT" {
                perVector += 4 * d
            } else if part.hasPrefix("SQ") {
                let bits = Int(part.dropFirst(2)) ?? 8
                perVector += (d * bits + 7) / 8
            } else if part.hasPrefix("PQ"), let m = Int(part.dropFirst(2).prefix { $0.isNumber }) {
                perVector += m
                fixed += 256 * d * 4
            }
        }
        if parts.count == 1 && parts[0].hasPrefix("HNSW") { perVector += 4 * d }
        return fixed + perVector * max(n, 0)
    }

    static func resolvedPlan(factory: String, count: Int, dimension d: Int) -> IndexPlan {
        let upper = factory.uppercased()
        var parameters = SearchParameters()
        var efConstruction: Int?
        if let range = upper.range(of: "IVF"), let nlist = Int(upper[range.upperBound...].prefix { $0.isNumber }) {
            parameters.nprobe = min(nlist, max(8, nlist / 32))
        }
        if upper.contains("HNSW") {
            parameters.efSearch = defaultEfSearch
            efConstruction = hnswEfConstruction
        }
        return IndexPlan(
            factory: factory,
            trainingSampleSize: trainingSampleSize(factory: factory, count: count),
            estimatedBytes: estimatedBytes(factory: factory, count: count, dimension: d),
            efConstruction: efConstruction, defaultParameters: parameters, reason: factory)
    }
}
