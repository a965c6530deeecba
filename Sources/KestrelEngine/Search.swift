import Foundation
import KestrelIndex
import KestrelStore

/// One search result.
public struct SearchResult: Sendable {
    public var rank: Int
    public var id: UInt64
    public var path: String
    public var score: Float
}

/// What to search for.
public enum SearchQuery: Sendable {
    case text(String)
    case image(URL)
    /// "More like this item": the stored vector of an item (the item itself is left out).
    case like(UInt64)
}

public struct SearchOptions: Sendable {
    public var k = 10
    /// Leave out results scoring below this cosine.
    public var minScore: Float?
    /// Only items with a path starting with this prefix.
    public var pathPrefix: String?
    public init(k: Int = 10, minScore: Float? = nil, pathPrefix: String? = nil) {
        self.k = k; self.minScore = minScore; self.pathPrefix = pathPrefix
    }
}

extension Catalog {
    /// The query's unit vector: text and image queries need the catalog's model; `like` does not.
    public func queryVector(_ query: SearchQuery, embedder: () throws -> Embedder) throws -> [Float] {
        switch query {
        case .text(let t):
            return try embedder().embedTexts([t]).data
        case .image(let url):
            return try embedder().embedImages([url])[0].get()
        case .like(let id):
            guard var v = try store.vector(id: id) else { throw EngineError.noSuchItem(id, index: directory.path) }
            var norm: Float = 0
            for x in v { norm += x * x }
            norm = norm.squareRoot()
            if norm > 0 { v = v.map { $0 / norm } }
            return v
        }
    }

    /// Top-k items by inner product (cosine on unit vectors) with `vector`, best first.
    public func search(vector: [Float], options: SearchOptions, excluding: UInt64? = nil) throws -> [SearchResult] {
        guard vector.count == store.identity.dimension else {
            throw EngineError.dimensionMismatch(query: vector.count, index: store.identity.dimension)
        }
        var allowed: Set<Int64>?
        if let prefix = options.pathPrefix {
            var ids = Set<Int64>()
            for path in try store.paths() where path.hasPrefix(prefix) {
                if let r = try store.lookup(path: path) { ids.insert(Int64(r.id)) }
            }
            allowed = ids
            if ids.isEmpty { return [] }
        }
        let want = options.k + (excluding == nil ? 0 : 1)
        let hits = try index.search(vector, count: 1, k: want, allowedIDs: allowed)[0]
        var results: [SearchResult] = []
        for hit in hits where hit.id >= 0 {
            let id = UInt64(hit.id)
            if id == excluding { continue }
            if let minScore = options.minScore, hit.score < minScore { continue }
            guard let item = try store.item(id: id) else { continue }
            let path = options.pathPrefix.flatMap { p in item.paths.first { $0.hasPrefix(p) } } ?? item.paths.first ?? ""
            results.append(SearchResult(rank: results.count + 1, id: id, path: path, score: hit.score))
            if results.count == options.k { break }
        }
        return results
    }
}
