import Foundation
import Hummingbird
import KestrelEngine

/// `GET /v1/duplicates?threshold=0.95&limit=100`: groups of near-duplicate items, items linked
/// when their exact cosine is at least `threshold` (finite, 0 < t <= 1), groups joined
/// transitively, largest first. `{"threshold", "groups": [{"ids": [...], "min_score"}], "took_ms"}`
/// (`min_score`: the lowest cosine among the links in the group). `limit`: most groups (1...10000).
///
/// The links come from `SearchService.duplicates` (computed once per index version in the
/// background; each item's `DuplicateFinder.neighbours` nearest are looked at). While they are
/// computed the route answers 503 `not_ready` with `Retry-After` (it first waits up to a second,
/// so small catalogs answer at once).
enum DuplicatesRoutes {
    struct Group: Encodable, Sendable { var ids: [UInt64]; var min_score: Float }
    struct Answer: Encodable, Sendable { var threshold: Double; var groups: [Group]; var took_ms: Double }

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
            let finder = service.duplicates
            let version = try await service.offload { finder.currentVersion() }
            let timeout = service.configuration.limits.requestTimeout
            let wait = timeout.isFinite && timeout > 0 ? min(1, timeout / 2) : 1
            let links = try await finder.links(version: version, wait: wait) { check in try finder.compute(version: version, check: check) }
            let groups = DuplicateFinder.groups(links.links, threshold: Float(threshold), limit: limit)
            return try jsonResponse(Answer(threshold: threshold, groups: groups.map { Group(ids: $0.ids, min_score: $0.minScore) },
                                           took_ms: milliseconds(since: start)))
        })
    }
}
