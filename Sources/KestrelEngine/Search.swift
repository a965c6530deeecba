import Foundation
import KestrelFiles
import KestrelIndex
import KestrelStore

/// One search result.
public struct SearchResult: Sendable {
    public var rank: Int
    public var id: UInt64
    /// One path of the item (under the prefix, when one was given).
    public var path: FilePathBytes
    public var score: Float
}

/// What to search for.
public enum SearchQuery: Sendable {
    case text(String)
    /// An image file (read by kind and size first: a FIFO or a folder is an error saying so).
    case image(FilePathBytes)
    /// "More like this item": the stored vector of an item (the item itself is left out).
    case like(UInt64)
}

public struct SearchOptions: Sendable {
    /// Results wanted, at least 1; more than the catalog holds means all of them.
    public var k = 10
    /// Leave out results scoring below this cosine (finite).
    public var minScore: Float?
    /// Only items with a path starting with these bytes (compared bytewise: no Unicode equivalence).
    public var pathPrefix: FilePathBytes?
    public init(k: Int = 10, minScore: Float? = nil, pathPrefix: FilePathBytes? = nil) {
        self.k = k; self.minScore = minScore; self.pathPrefix = pathPrefix
    }
}

extension Catalog {
    /// The query's unit vector: text and image queries need the catalog's model; `like` does not.
    /// An image query must be embedded as the stored vectors were: another EXIF orientation
    /// setting throws `EngineError.orientationMismatch`, another precision (the one the model
    /// actually runs) `EngineError.precisionMismatch`, another JPEG decoding
    /// `EngineError.jpegDecodingMismatch` (an empty catalog without a record accepts either).
    public func queryVector(_ query: SearchQuery, embedder: () throws -> Embedder) throws -> [Float] {
        switch query {
        case .text(let t):
            return try embedder().embedTexts([t]).data
        case .image(let path):
            // An image query must see pictures as the stored vectors did (EXIF orientation).
            let e = try embedder()
            try requireOrientation(e.preprocessor.decoder.orientation)
            try requirePrecision(e.model.precision)
            if let recorded = jpegDecoding, recorded != e.preprocessor.decoder.jpegDecoding {
                throw EngineError.jpegDecodingMismatch(index: location.description, recorded: recorded,
                                                       requested: e.preprocessor.decoder.jpegDecoding)
            }
            return try e.embedImages([path])[0].get()
        case .like(let id):
            guard var v = try store.vector(id: id) else { throw EngineError.noSuchItem(id, index: location.description) }
            var norm: Float = 0
            for x in v { norm += x * x }
            norm = norm.squareRoot()
            if norm > 0 { v = v.map { $0 / norm } }
            return v
        }
    }

    /// Top-k items by inner product (cosine on unit vectors) with `vector`, best first.
    /// Throws `EngineError.badArgument` for k < 1 or a non-finite minScore; a k above the item
    /// count is clamped to it (every item, best first).
    public func search(vector: [Float], options: SearchOptions, excluding: UInt64? = nil) throws -> [SearchResult] {
        guard options.k >= 1 else { throw EngineError.badArgument("k", "must be at least 1, got \(options.k)") }
        if let minScore = options.minScore, !minScore.isFinite {
            throw EngineError.badArgument("minScore", "must be a finite number, got \(minScore)")
        }
        guard vector.count == store.identity.dimension else {
            throw EngineError.dimensionMismatch(query: vector.count, index: store.identity.dimension)
        }
        let index = self.index  // one index for the whole search: a rebuild may swap it meanwhile
        var allowed: Set<Int64>?
        if let prefix = options.pathPrefix {
            // One read transaction: a range scan of the sorted path keys.
            let ids = Set(try store.paths(withPrefix: prefix).map { Int64($0.id) })
            allowed = ids
            if ids.isEmpty { return [] }
        }
        // Never more than the index holds (k may be Int.max): nothing is sized by the raw k.
        let available = allowed.map { min($0.count, index.count) } ?? index.count
        let k = min(options.k, available)
        if k == 0 { return [] }
        let want = min(k + (excluding == nil ? 0 : 1), available)
        let hits = try index.search(vector, count: 1, k: want, allowedIDs: allowed)[0]
        var results: [SearchResult] = []
        for hit in hits where hit.id >= 0 {
            let id = UInt64(hit.id)
            if id == excluding { continue }
            if let minScore = options.minScore, hit.score < minScore { continue }
            // The index holds only ids the store logged as added and not removed: a missing item
            // (or one without paths) is damage, never a result shown without a path, unless a
            // writer sharing this catalog has removed it from the store and not yet from the
            // index (the store's log is then past what the index covers): left out.
            guard let item = try store.item(id: id), let first = item.paths.first else {
                if try store.lastSequence > index.coveredSequence { continue }
                throw StoreError.corrupt(store: store.location.description, detail: "item \(id) is indexed but missing from the store")
            }
            let path = options.pathPrefix.flatMap { p in item.paths.first { $0.hasPrefix(p) } } ?? first
            results.append(SearchResult(rank: results.count + 1, id: id, path: path, score: hit.score))
            if results.count == k { break }
        }
        return results
    }
}
