import Foundation
import KestrelEngine

/// Near-duplicate links for `GET /v1/duplicates`, computed in the background once per index
/// version and answered from that result.
///
/// A version is the index object and the store sequence it covers: an upload, a removal or a
/// rebuild makes a new one. At most one computation runs at a time; it runs on the blocking pool,
/// checks for cancellation between chunks, and costs O(N * k) searches made as FAISS batch
/// searches (`VectorIndex.search` with 256 queries at a time) for the `neighbours` nearest of
/// each item. Every candidate pair is then re-scored exactly as the cosine of the two stored
/// vectors (normalised), so approximate index scores (SQ, PQ, IVF) never decide a group.
/// Requests for a threshold then only join the links at or above it (union-find).
public final class DuplicateFinder: Sendable {
    /// One link: two items and their exact cosine.
    public struct Link: Sendable, Equatable { public var a: UInt64; public var b: UInt64; public var score: Float }
    /// A version's links, strongest first.
    public struct Links: Sendable { public var version: Version; public var links: [Link] }
    /// The index object and the store sequence it covers.
    public struct Version: Hashable, Sendable {
        public var index: ObjectIdentifier
        public var sequence: UInt64
    }
    /// A group of linked items.
    public struct Group: Sendable, Equatable { public var ids: [UInt64]; public var minScore: Float }

    /// Computes a version's links (blocking; calls `check` between steps).
    public typealias Compute = @Sendable (_ check: CancellationCheck) throws -> Links

    /// Neighbours looked at per item.
    public static let neighbours = 16

    private struct State {
        var ready: Links?
        var running: (version: Version, task: Task<Links, Error>)?
    }
    private let state = LockedState(State())
    private let catalog: Catalog

    init(catalog: Catalog) { self.catalog = catalog }

    /// The current version (the index object and its covered sequence; takes the index's read
    /// lock: call it off the event loop).
    func currentVersion() -> Version {
        let index = catalog.index
        return Version(index: ObjectIdentifier(index), sequence: index.coveredSequence)
    }

    /// The links of `version`: from the last result when it is that version; otherwise a
    /// computation is started (unless one runs: one for that version is awaited, one for another
    /// version makes this call throw 503 `not_ready` at once) and awaited up to `wait` seconds.
    /// Throws 503 `not_ready` (with `Retry-After`) when it has not finished by then, or the
    /// computation's error.
    public func links(version: Version, wait: Double, sleep: @escaping Deadline.Sleep = Deadline.taskSleep,
                      compute: @escaping Compute) async throws -> Links {
        if let ready = state.withLock({ $0.ready }), ready.version == version { return ready }
        let job: Task<Links, Error>? = state.withLock { s in
            if let ready = s.ready, ready.version == version { return Task { ready } }   // finished meanwhile
            if let running = s.running { return running.version == version ? running.task : nil }
            let task = Task<Links, Error> {
                defer { self.state.withLock { s in if s.running?.version == version { s.running = nil } } }
                let links = try await SearchService.offload { check in try compute(check) }
                self.state.withLock { s in s.ready = links }
                return links
            }
            s.running = (version, task)
            return task
        }
        guard let job else {
            // One job at a time: the one for an older version finishes first.
            throw APIError.notReady("the duplicate groups of an earlier index version are still being computed; try again shortly",
                                    retryAfter: 2)
        }
        do {
            return try await Deadline.run(timeout: wait, sleep: sleep) { try await job.value }
        } catch let e as APIError where e.code == "deadline_exceeded" {
            throw APIError.notReady("the duplicate groups of this index version are being computed; try again shortly",
                                    retryAfter: 2)
        }
    }

    /// Whether a computation is running.
    public var isComputing: Bool { state.withLock { $0.running != nil } }

    /// The links of the catalog's current index (blocking; checks `check` between chunks).
    func compute(version: Version, check: CancellationCheck) throws -> Links {
        let (ids, values) = try catalog.store.allVectors()
        guard ids.count > 1 else { return Links(version: version, links: []) }
        let d = catalog.store.identity.dimension
        var unit = values
        for i in 0..<ids.count {
            if i % 4096 == 0 { try check() }
            var norm: Float = 0
            for k in 0..<d { norm += unit[i * d + k] * unit[i * d + k] }
            norm = norm.squareRoot()
            if norm > 0 { for k in 0..<d { unit[i * d + k] /= norm } }
        }
        var row: [UInt64: Int] = [:]
        row.reserveCapacity(ids.count)
        for (i, id) in ids.enumerated() { row[id] = i }
        let index = catalog.index
        let k = min(Self.neighbours + 1, max(1, index.count))
        let chunk = 256
        struct Pair: Hashable { var lo: UInt64; var hi: UInt64 }
        var seen = Set<Pair>()   // pairs already scored
        var links: [Link] = []
        for start in stride(from: 0, to: ids.count, by: chunk) {
            try check()
            let n = min(chunk, ids.count - start)
            let hits = try index.search(Array(unit[(start * d)..<((start + n) * d)]), count: n, k: k)
            for (r, list) in hits.enumerated() {
                let a = ids[start + r]
                let ra = start + r
                for hit in list where hit.id >= 0 && UInt64(hit.id) != a {
                    let b = UInt64(hit.id)
                    guard let rb = row[b] else { continue }   // in the index, not (or no longer) in the store
                    let (lo, hi) = a < b ? (a, b) : (b, a)
                    guard seen.insert(Pair(lo: lo, hi: hi)).inserted else { continue }
                    var dot: Float = 0
                    for x in 0..<d { dot += unit[ra * d + x] * unit[rb * d + x] }
                    links.append(Link(a: lo, b: hi, score: dot))
                }
            }
        }
        links.sort { $0.score != $1.score ? $0.score > $1.score : ($0.a, $0.b) < ($1.a, $1.b) }
        return Links(version: version, links: links)
    }

    /// The groups the links at or above `threshold` make (joined transitively), largest first,
    /// then by smallest id; `minScore` is the lowest link in the group.
    public static func groups(_ links: [Link], threshold: Float, limit: Int) -> [Group] {
        var parent: [UInt64: UInt64] = [:]
        var weakest: [UInt64: Float] = [:]
        func root(_ x: UInt64) -> UInt64 {
            var r = x
            while let p = parent[r], p != r { r = p }
            var y = x
            while let p = parent[y], p != r { parent[y] = r; y = p }
            return r
        }
        for link in links {
            guard link.score >= threshold else { break }   // strongest first
            if parent[link.a] == nil { parent[link.a] = link.a }
            if parent[link.b] == nil { parent[link.b] = link.b }
            let ra = root(link.a), rb = root(link.b)
            let w = min(weakest[ra] ?? 1, weakest[rb] ?? 1, link.score)
            if ra != rb { parent[rb] = ra }
            weakest[root(link.a)] = w
        }
        var members: [UInt64: [UInt64]] = [:]
        for id in parent.keys { members[root(id), default: []].append(id) }
        var groups: [Group] = []
        for (r, list) in members where list.count > 1 {
            groups.append(Group(ids: list.sorted(), minScore: weakest[r] ?? 1))
        }
        groups.sort { a, b in a.ids.count != b.ids.count ? a.ids.count > b.ids.count : a.ids[0] < b.ids[0] }
        return Array(groups.prefix(limit))
    }
}
