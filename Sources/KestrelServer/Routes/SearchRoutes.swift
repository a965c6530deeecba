import Foundation
import Hummingbird
import KestrelEngine

/// `POST /v1/search` (text, weighted terms, find-similar by item ids, filters) and
/// `POST /v1/search/image` (an uploaded image). Both answer
/// `{"results": [{"id", "score", "path", "width", "height", "metadata", "thumbnail"}], "model", "took_ms", "truncated"}`,
/// best first. `truncated` is true when a filtered search looked at its deepest candidate list
/// (`filterDepth`) without finding k matches: more matches may exist further down.
enum SearchRoutes {
    static let fields: Set<String> = ["text", "image_ids", "k", "min_score", "path_prefix", "filters"]

    struct Hit: Encodable, Sendable {
        var id: UInt64
        var score: Float
        var path: String
        var path_bytes: String?
        var width: Int
        var height: Int
        var metadata: JSONValue
        var thumbnail: String
    }
    struct Answer: Encodable, Sendable {
        var results: [Hit]
        var model: ModelInfo
        var took_ms: Double
        var truncated: Bool
    }

    /// A parsed search request.
    struct Query: Sendable {
        var terms: [(text: String, weight: Double)] = []
        var images: [(id: UInt64, weight: Double)] = []
        var options = SearchOptions()
        var filters: [String: JSONValue] = [:]
    }

    static func register(on router: Router<KestrelHTTP.Context>, service: SearchService) {
        router.post("/v1/search", use: Deadline.wrap(service, body: .json) { request, _ -> Response in
            let start = ContinuousClock.now
            let object = try await QueryParsing.jsonObject(request, limits: service.configuration.limits)
            let query = try parse(object, limits: service.configuration.limits)
            RequestLogNote.current?.query = query.terms.map(\.text).joined(separator: " | ")
            let vector = try await queryVector(query, service: service)
            let found = try await service.offload(checking: { check in
                try run(vector: vector, options: query.options, excluding: Set(query.images.map(\.id)), filters: query.filters,
                        service: service, check: check)
            })
            return try jsonResponse(Answer(results: found.hits, model: ModelInfo(service.identity), took_ms: milliseconds(since: start),
                                           truncated: found.truncated))
        })
        router.post("/v1/search/image", use: Deadline.wrap(service) { request, _ -> Response in
            let start = ContinuousClock.now
            let options = try QueryParsing.searchOptions(request, limits: service.configuration.limits)
            let upload = try await ImageUpload.read(request, limits: service.configuration.limits)
            let vector = try await service.imageVector(upload.bytes)
            let found = try await service.offload(checking: { check in
                try run(vector: vector, options: options, excluding: [], filters: [:], service: service, check: check)
            })
            return try jsonResponse(Answer(results: found.hits, model: ModelInfo(service.identity), took_ms: milliseconds(since: start),
                                           truncated: found.truncated))
        })
    }

    /// Reads and checks every field of a search body.
    static func parse(_ object: [String: JSONValue], limits: ServerLimits) throws -> Query {
        try QueryParsing.rejectUnknown(object, allowed: fields)
        var q = Query()
        switch object["text"] {
        case nil, .null?: break
        case .string(let s)?: q.terms = [(try QueryParsing.queryText(s, field: "text", limits: limits), 1)]
        case .array(let terms)?:
            try QueryParsing.checkBatch(terms.count, field: "text", limits: limits)
            for (i, term) in terms.enumerated() {
                switch term {
                case .string(let s): q.terms.append((try QueryParsing.queryText(s, field: "text[\(i)]", limits: limits), 1))
                case .object(let o):
                    try QueryParsing.rejectUnknown(o, allowed: ["query", "weight"])
                    guard case .string(let s)? = o["query"] else {
                        throw QueryParsing.wrongType("text[\(i)].query", "a string", o["query"] ?? .null)
                    }
                    q.terms.append((try QueryParsing.queryText(s, field: "text[\(i)].query", limits: limits),
                                    try weight(o["weight"], field: "text[\(i)].weight")))
                default: throw QueryParsing.wrongType("text[\(i)]", "a string or {\"query\", \"weight\"}", term)
                }
            }
        case let other?: throw QueryParsing.wrongType("text", "a string or an array of {\"query\", \"weight\"}", other)
        }
        switch object["image_ids"] {
        case nil, .null?: break
        case .array(let ids)?:
            try QueryParsing.checkBatch(ids.count, field: "image_ids", limits: limits)
            for (i, entry) in ids.enumerated() {
                switch entry {
                case .number(let n): q.images.append((try id(n, field: "image_ids[\(i)]"), 1))
                case .object(let o):
                    try QueryParsing.rejectUnknown(o, allowed: ["id", "weight"])
                    guard case .number(let n)? = o["id"] else { throw QueryParsing.wrongType("image_ids[\(i)].id", "a number", o["id"] ?? .null) }
                    q.images.append((try id(n, field: "image_ids[\(i)].id"), try weight(o["weight"], field: "image_ids[\(i)].weight")))
                default: throw QueryParsing.wrongType("image_ids[\(i)]", "an id or {\"id\", \"weight\"}", entry)
                }
            }
        case let other?: throw QueryParsing.wrongType("image_ids", "an array", other)
        }
        guard !q.terms.isEmpty || !q.images.isEmpty else {
            throw APIError.badRequest("bad_request", "the body needs \"text\" (a string or weighted terms) or \"image_ids\"")
        }
        try QueryParsing.checkBatch(q.terms.count + q.images.count, field: "text and image_ids", limits: limits)
        switch object["k"] {
        case nil, .null?: q.options.k = try QueryParsing.k(nil, limits: limits)
        case .number(let n)?: q.options.k = try QueryParsing.k(n, limits: limits)
        case let other?: throw QueryParsing.wrongType("k", "a whole number", other)
        }
        switch object["min_score"] {
        case nil, .null?: break
        case .number(let n)?: q.options.minScore = try QueryParsing.finiteScore(n, field: "min_score")
        case let other?: throw QueryParsing.wrongType("min_score", "a finite number", other)
        }
        switch object["path_prefix"] {
        case nil, .null?: break
        case .string(let s)?: q.options.pathPrefix = FilePathBytes(s)
        case let other?: throw QueryParsing.wrongType("path_prefix", "a string", other)
        }
        switch object["filters"] {
        case nil, .null?: break
        case .object(let o)?:
            try QueryParsing.checkBatch(o.count, field: "filters", limits: limits)
            q.filters = o
        case let other?: throw QueryParsing.wrongType("filters", "an object", other)
        }
        return q
    }

    /// A term's weight: any finite number (the query vector is normalised, so only the weights'
    /// ratios matter; they are scaled by the largest before summing, so 1e300 is as good as 1).
    static func weight(_ value: JSONValue?, field: String) throws -> Double {
        switch value {
        case nil, .null?: return 1
        case .number(let n)?:
            guard n.isFinite else { throw APIError.badRequest("bad_request", "\"\(field)\" must be a finite number, got \(n)") }
            return n
        case let other?: throw QueryParsing.wrongType(field, "a finite number", other)
        }
    }

    static func id(_ n: Double, field: String) throws -> UInt64 {
        guard n.isFinite, n == n.rounded(), n >= 0, n <= 9_007_199_254_740_992 else {
            throw APIError.badRequest("bad_id", "\"\(field)\" must be an item id (a whole number 0...2^53), got \(QueryParsing.formatNumber(n))")
        }
        return UInt64(n)
    }

    /// The normalised weighted sum of every term's and item's unit vector.
    static func queryVector(_ q: Query, service: SearchService) async throws -> [Float] {
        // Summed in Double with the weights divided by the largest |weight|: no overflow for huge
        // weights, no underflow for tiny ones.
        let scale = (q.terms.map { abs($0.weight) } + q.images.map { abs($0.weight) }).max() ?? 1
        var sum = [Double](repeating: 0, count: service.identity.dimension)
        func add(_ v: [Float], _ w: Double) throws {
            guard v.count == sum.count else { throw EngineError.dimensionMismatch(query: v.count, index: sum.count) }
            let w = scale > 0 ? w / scale : 0
            for i in sum.indices { sum[i] += w * Double(v[i]) }
        }
        // Every text term goes to the batcher at once (they may share one tower call).
        let texts = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for (i, term) in q.terms.enumerated() { group.addTask { (i, try await service.textVector(term.text)) } }
            var out = [[Float]](repeating: [], count: q.terms.count)
            for try await (i, v) in group { out[i] = v }
            return out
        }
        for (i, v) in texts.enumerated() { try add(v, q.terms[i].weight) }
        if !q.images.isEmpty {
            let ids = q.images
            let vectors = try await service.offload {
                try ids.map { try service.catalog.queryVector(.like($0.id), embedder: { service.embedder }) }
            }
            for (i, v) in vectors.enumerated() { try add(v, ids[i].weight) }
        }
        var norm: Double = 0
        for x in sum { norm += x * x }
        norm = norm.squareRoot()
        guard norm.isFinite, norm > 1e-6 else {
            throw APIError.badRequest("bad_request", "the weighted terms cancel out (their sum is the zero vector): change the weights")
        }
        return sum.map { Float($0 / norm) }
    }

    /// The most candidates a filtered search looks at: min(index size, max(10 * k, `floor`)) (floor 2048).
    static func filterDepth(k: Int, total: Int, floor: Int = 2048) -> Int { min(total, max(10 * k, floor)) }

    /// Searches, leaving out `excluding` and items whose metadata does not match `filters`. A
    /// filtered search looks deeper in rounds (x4, from max(4k, 64)) up to `filterDepth`; each
    /// item is read from the store once per request. `truncated`: the depth cap was reached with
    /// fewer than k matches while the index holds more. Blocking; `check` between rounds.
    static func run(vector: [Float], options: SearchOptions, excluding: Set<UInt64>, filters: [String: JSONValue],
                    service: SearchService, check: CancellationCheck, depthFloor: Int = 2048) throws -> (hits: [Hit], truncated: Bool) {
        let catalog = service.catalog
        let total = max(1, catalog.index.count)
        let cap = filters.isEmpty ? total : min(total, filterDepth(k: options.k, total: total, floor: depthFloor) + excluding.count)
        var want = options.k + excluding.count
        if !filters.isEmpty { want = max(want * 4, 64) }
        want = min(want, cap)
        var items: [UInt64: ItemRecord?] = [:]   // read once, reused across rounds
        var kept: [(SearchResult, ItemRecord)] = []
        var truncated = false
        while true {
            try check()
            var o = options
            o.k = want
            let results = try catalog.search(vector: vector, options: o)
            kept = []
            for r in results where !excluding.contains(r.id) {
                let item: ItemRecord?
                if let known = items[r.id] { item = known } else { item = try catalog.store.item(id: r.id); items[r.id] = item }
                guard let item else { continue }
                if !filters.isEmpty && !matches(item.metadata, filters) { continue }
                kept.append((r, item))
                if kept.count == options.k { break }
            }
            if kept.count >= options.k || results.count < o.k || o.k >= total { break }
            if o.k >= cap { truncated = true; break }
            want = min(cap, want * 4)
        }
        let hits = kept.map { r, item in
            let p = PathText(r.path)
            return Hit(id: r.id, score: r.score, path: p.text, path_bytes: p.base64, width: item.width, height: item.height,
                       metadata: item.metadata.flatMap(JSONValue.parse) ?? .null, thumbnail: "/v1/items/\(r.id)/thumbnail")
        }
        return (hits, truncated)
    }

    /// Whether every filter field equals the same top-level field of the item's metadata object.
    static func matches(_ metadata: String?, _ filters: [String: JSONValue]) -> Bool {
        guard let metadata, case .object(let fields)? = JSONValue.parse(metadata) else { return false }
        return filters.allSatisfy { fields[$0.key] == $0.value }
    }
}

/// The model identity every response carries.
struct ModelInfo: Encodable, Sendable {
    var name: String
    var fingerprint: String
    var dimension: Int
    init(_ identity: ModelIdentity) { name = identity.name; fingerprint = identity.fingerprint; dimension = identity.dimension }
}

/// Milliseconds since `start`.
func milliseconds(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return (Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12).rounded() / 1000
}
