import Foundation
import Hummingbird
import KestrelEngine

/// `GET /v1/duplicates?threshold=0.95&limit=100`: groups of near-duplicate items, items linked
/// when their cosine is at least `threshold` (finite, 0 < t <= 1), groups joined transitively,
/// largest first. `{"threshold", "groups": [{"ids": [...], "min_score"}]}` (`min_score`: the
/// lowest cosine among the links that made the group). `limit`: most groups (1...10000).
enum DuplicatesRoutes {
    struct Group: Encodable, Sendable { var ids: [UInt64]; var min_score: Float }
    struct Answer: Encodable, Sendable { var threshold: Double; var groups: [Group]; var took_ms: Double }
    /// Neighbours looked at per item.
    static let neighbours = 16

    static func register(on router: Router<KestrelHTTP.Context>, service: SearchService) {
        router.get("/v1/duplicates", use: Deadline.wrap(service) { request, _ -> Response in
            let start = ContinuousClock.now
            var threshold = 0.95
            if let t = try QueryParsing.queryNumber(request, "threshold") {
                guard t.isFinite, t > 0, t <= 1 else {
                    throw APIError.badRequest("bad_request", "\"threshold\" must be a cosine in (0, 1], got \(t)")
                }
                threshold = t
            }
            var limit = 100
            if let l = try QueryParsing.queryNumber(request, "limit") { limit = try QueryParsing.wholeNumber(l, field: "limit", range: 1...10_000) }
            let t = Float(threshold), cap = limit
            let groups = try await service.offload { try find(catalog: service.catalog, threshold: t, limit: cap) }
            return jsonResponse(Answer(threshold: threshold, groups: groups, took_ms: milliseconds(since: start)))
        })
    }

    /// Every item's nearest neighbours from the index, linked at `threshold`, grouped (union-find).
    static func find(catalog: Catalog, threshold: Float, limit: Int) throws -> [Group] {
        let (ids, values) = try catalog.store.allVectors()
        guard ids.count > 1 else { return [] }
        let d = catalog.store.identity.dimension
        var unit = values
        for i in 0..<ids.count {
            var norm: Float = 0
            for k in 0..<d { norm += unit[i * d + k] * unit[i * d + k] }
            norm = norm.squareRoot()
            if norm > 0 { for k in 0..<d { unit[i * d + k] /= norm } }
        }
        var parent: [UInt64: UInt64] = [:]
        var weakest: [UInt64: Float] = [:]
        func root(_ x: UInt64) -> UInt64 {
            var r = x
            while let p = parent[r], p != r { r = p }
            var y = x
            while let p = parent[y], p != r { parent[y] = r; y = p }
            return r
        }
        let index = catalog.index
        let k = min(neighbours + 1, max(1, index.count))
        let chunk = 256
        for start in stride(from: 0, to: ids.count, by: chunk) {
            let n = min(chunk, ids.count - start)
            let hits = try index.search(Array(unit[(start * d)..<((start + n) * d)]), count: n, k: k)
            for (row, list) in hits.enumerated() {
                let a = ids[start + row]
                for hit in list where hit.id >= 0 && UInt64(hit.id) != a && hit.score >= threshold {
                    let b = UInt64(hit.id)
                    if parent[a] == nil { parent[a] = a }
                    if parent[b] == nil { parent[b] = b }
                    let ra = root(a), rb = root(b)
                    let w = min(weakest[ra] ?? 1, weakest[rb] ?? 1, hit.score)
                    if ra != rb { parent[rb] = ra }
                    weakest[root(a)] = w
                }
            }
        }
        var members: [UInt64: [UInt64]] = [:]
        for id in parent.keys { members[root(id), default: []].append(id) }
        var groups: [Group] = []
        for (r, list) in members where list.count > 1 {
            groups.append(Group(ids: list.sorted(), min_score: weakest[r] ?? 1))
        }
        groups.sort { (a: Group, b: Group) -> Bool in
            if a.ids.count != b.ids.count { return a.ids.count > b.ids.count }
            return a.ids[0] < b.ids[0]
        }
        return Array(groups.prefix(limit))
    }
}
