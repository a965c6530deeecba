// Retrieval metrics: recall@k of ranked galleries (the share of queries with at least one
// relevant item among the k best scored), its bootstrap over queries, and the chance baseline.

public enum RetrievalMetrics {
    /// The rank (0 = best) of the best-ranked relevant item among `scores` [G]: for each relevant
    /// item r, the items scored strictly higher plus those scored equally that come earlier
    /// (ties to the earlier item); the minimum over r. `relevant` holds indices into `scores`;
    /// an empty set gives `scores.count` (never retrieved), and so does a relevant item scored NaN
    /// (a NaN score is no evidence of a match; NaN scores of other items rank below every number).
    public static func firstRelevantRank<S: RandomAccessCollection>(scores: S, relevant: [Int]) -> Int
    where S.Element == Float, S.Index == Int {
        var best = scores.count
        let start = scores.startIndex
        for r in relevant {
            let s = scores[start + r]
            guard !s.isNaN else { continue }
            var rank = 0
            for j in 0..<scores.count {
                let q = scores[start + j]
                if q > s || (q == s && j < r) { rank += 1; if rank >= best { break } }
            }
            best = min(best, rank)
        }
        return best
    }

    /// First-relevant ranks of every query of a similarity matrix `similarity` [Q, G]
    /// (row-major; query q's scores are row q) with `relevant[q]` the relevant gallery items.
    /// Throws `EvaluationError.badArgument` on a size mismatch or an index outside 0..<G.
    public static func firstRelevantRanks(similarity: [Float], queries: Int, gallery: Int, relevant: [[Int]]) throws -> [Int] {
        guard similarity.count == queries * gallery else {
            throw EvaluationError.badArgument("similarity", "has \(similarity.count) values; \(queries) x \(gallery) need \(queries * gallery)")
        }
        guard relevant.count == queries else {
            throw EvaluationError.badArgument("relevant", "has \(relevant.count) sets for \(queries) queries")
        }
        for set in relevant { if let bad = set.first(where: { !(0..<gallery).contains($0) }) {
            throw EvaluationError.badArgument("relevant", "holds item \(bad), outside 0..<\(gallery)")
        } }
        return (0..<queries).map { q in
            firstRelevantRank(scores: similarity[(q * gallery)..<((q + 1) * gallery)], relevant: relevant[q])
        }
    }

    /// Recall@k over the queries `indices` (default: all): the share with first-relevant rank < k.
    /// NaN for no queries.
    public static func recall(ranks: [Int], k: Int, indices: [Int]? = nil) -> Double {
        let ix = indices ?? Array(ranks.indices)
        guard !ix.isEmpty else { return .nan }
        var hits = 0
        for i in ix where ranks[i] < k { hits += 1 }
        return Double(hits) / Double(ix.count)
    }

    /// Recall@k of a random ranking for one query with m relevant items in a gallery of N: the
    /// chance that at least one of the m is among the k drawn, 1 - C(N-m, k) / C(N, k)
    /// = 1 - prod_{i<k} (N-m-i) / (N-i); k/N when m = 1; 1 when k >= N - m + 1.
    public static func chance(gallery n: Int, relevant m: Int, k: Int) -> Double {
        guard n > 0, m > 0 else { return 0 }
        if k >= n - m + 1 { return 1 }
        var miss = 1.0
        for i in 0..<k { miss *= Double(n - m - i) / Double(n - i) }
        return 1 - miss
    }

    /// The chance baseline of a query set: the mean over queries of `chance(gallery:relevant:k:)`.
    public static func chance(gallery n: Int, relevantCounts: [Int], k: Int) -> Double {
        guard !relevantCounts.isEmpty else { return .nan }
        return relevantCounts.reduce(0) { $0 + chance(gallery: n, relevant: $1, k: k) } / Double(relevantCounts.count)
    }
}
