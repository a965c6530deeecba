import Foundation

// Checks on the numbers callers hand the index layer, made before FAISS sees them.

/// Checks the numbers inside a FAISS factory string before FAISS sees it. FAISS's factory parser
/// takes `HNSW0`, `IVF0` or `PQ7` on 512-d vectors and then divides by zero or writes out of
/// bounds later; here each number is held to the range that builds a working index, and the
/// error names the string and the number.
extension IndexPlanner {
    /// Longest factory string accepted (the longest useful ones are about 30 characters).
    public static let maxFactoryLength = 200
    /// HNSW M (links per node): FAISS needs 2 or more; past 1024 a graph is mostly link lists.
    public static let hnswMRange = 2...1024
    /// IVF inverted lists: at least 1; 2^24 is 16x what FAISS advises for a billion vectors.
    public static let ivfListRange = 1...(1 << 24)
    /// Bits per PQ code: FAISS's product quantiser takes 1 to 16.
    public static let pqBitsRange = 1...16

    /// The aliases `resolve` accepts besides FAISS factory strings (and "auto", the planner's choice).
    public static let aliases: Set<String> = ["auto", "flat", "hnsw", "sq8", "ivf", "ivfsq8", "ivfpq"]

    /// The factory forms Kestrel builds and searches, for messages. FAISS parses more (NSG,
    /// Refine, LSH, fast-scan PQ, IMI...), but their searches refuse the per-call parameters and
    /// id filters every Kestrel search passes, so an index of those types could never be searched.
    public static let supportedForms = "auto, flat, hnsw, ivf, ivfsq8, ivfpq, sq8, or a FAISS factory string of the form"
        + " Flat, HNSWm[,Flat|SQ8|SQfp16], IVFn[_HNSWm],(Flat|SQ8|SQfp16|PQm[xb]), SQ8 or SQfp16"
        + " (SQ4 and SQ6 wherever SQ8 goes), optionally after OPQm (a rotation; PCA and dimension-reducing OPQm_d are refused: their scores are not cosines)"
        + " (e.g. HNSW32,Flat, IVF1024,PQ64 or OPQ64,IVF1024,PQ64)"

    /// Throws `IndexError.unknownFactory` unless `factory` is an alias or one of the supported
    /// forms (`supportedForms`) with every number in range: HNSW M in `hnswMRange`, IVF lists in
    /// `ivfListRange`, PQ sub-quantizers at least 1 and (when `dimension` is known) dividing the
    /// dimension they apply to, PQ bits in `pqBitsRange`, OPQ / PCA output sizes at least 1 (PCA
    /// at most its input dimension). The error names the string and what is wrong with it.
    public static func validate(factory: String, dimension: Int?) throws {
        _ = try canonicalFactory(factory, dimension: dimension)
    }

    /// `factory` (not an alias) in FAISS's spelling, after the checks of `validate`: "hnsw64"
    /// is "HNSW64,Flat", "ivf4,sqfp16" is "IVF4,SQfp16". An alias is returned as given.
    public static func canonicalFactory(_ factory: String, dimension: Int?) throws -> String {
        let spec = factory.trimmingCharacters(in: .whitespaces)
        func fail(_ reason: String) -> IndexError { .unknownFactory(factory, reason: reason) }
        guard !spec.isEmpty else { throw fail("empty factory string") }
        guard spec.count <= maxFactoryLength else { throw fail("longer than \(maxFactoryLength) characters") }
        if aliases.contains(spec.lowercased()) { return spec.lowercased() }
        if let dimension, dimension < 1 { throw fail("the vectors' dimension is \(dimension)") }
        let originals = spec.split(separator: ",", omittingEmptySubsequences: false)
        func unsupported(_ part: Substring, _ why: String) -> IndexError {
            // Quoted as the user typed it (parsing works on the upper-cased string).
            let typed = originals.first { $0.uppercased() == part } ?? part
            return fail("\(why) '\(typed)' is not an index type Kestrel can search; --index-type takes \(supportedForms)")
        }

        /// The digits at the start of `s` as a number (nil: no digits), and what follows them.
        func number(_ s: Substring, _ what: String) throws -> (Int?, Substring) {
            let digits = s.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty else { return (nil, s) }
            guard let n = Int(digits) else { throw fail("\(what) \(digits) is too large") }
            return (n, s.dropFirst(digits.count))
        }
        func hnsw(_ rest: Substring, _ part: Substring) throws -> String {
            let (m, tail) = try number(rest, "HNSW M")
            guard tail.isEmpty else { throw unsupported(part, "the component") }
            if let m, !hnswMRange.contains(m) {
                throw fail("HNSW M (links per node) is \(m); it must be between \(hnswMRange.lowerBound) and \(hnswMRange.upperBound)")
            }
            return "HNSW\(m ?? hnswM)"
        }
        /// SQ4 / SQ6 / SQ8 / SQfp16, or nil.
        func scalar(_ part: Substring) -> String? {
            switch part {
            case "SQ4", "SQ6", "SQ8": return String(part)
            case "SQFP16": return "SQfp16"
            default: return nil
            }
        }
        func pq(_ part: Substring, _ d: Int?) throws -> String? {
            guard part.hasPrefix("PQ") else { return nil }
            let (m, rest) = try number(part.dropFirst(2), "PQ sub-quantizer count")
            guard let m, m >= 1 else { throw fail("PQ needs at least 1 sub-quantizer, e.g. PQ16") }
            if let d, d % m != 0 { throw fail("PQ\(m): \(m) sub-quantizers must divide the dimension \(d)") }
            guard !rest.isEmpty else { return "PQ\(m)" }
            guard rest.hasPrefix("X") else { throw unsupported(part, "the component") }
            let (bits, tail) = try number(rest.dropFirst(), "PQ bits")
            guard let bits, pqBitsRange.contains(bits) else {
                throw fail("PQ bits per code must be between \(pqBitsRange.lowerBound) and \(pqBitsRange.upperBound)")
            }
            guard tail.isEmpty else { throw unsupported(part, "the component") }
            return "PQ\(m)x\(bits)"
        }

        var parts = spec.uppercased().split(separator: ",", omittingEmptySubsequences: false)[...]
        guard !parts.contains(where: \.isEmpty) else { throw fail("empty component between commas") }
        var out: [String] = []
        var d = dimension  // the dimension the next component sees (OPQ_d / PCA change it)

        // An optional transform in front.
        if let first = parts.first, first.hasPrefix("OPQ") {
            let (m, rest) = try number(first.dropFirst(3), "OPQ sub-quantizer count")
            guard let m, m >= 1 else { throw fail("OPQ needs at least 1 sub-quantizer, e.g. OPQ16") }
            var text = "OPQ\(m)"
            if rest.hasPrefix("_") {
                let (dOut, tail) = try number(rest.dropFirst(), "OPQ output dimension")
                guard let dOut, dOut >= 1 else { throw fail("OPQ output dimension must be at least 1") }
                guard tail.isEmpty else { throw unsupported(first, "the component") }
                if let d, dOut > d { throw fail("OPQ\(m)_\(dOut) cannot raise the dimension \(d)") }
                // A lower dimension projects the vectors: scores are no longer their cosines.
                if let d, dOut < d {
                    throw fail("OPQ\(m)_\(dOut) projects the \(d)-dimensional vectors to \(dOut), so scores would no longer be cosine similarities; use OPQ\(m) (a rotation) with PQ codes to save memory")
                }
                d = dOut
                text += "_\(dOut)"
            } else if !rest.isEmpty {
                throw unsupported(first, "the component")
            }
            if let d, d % m != 0 { throw fail("OPQ\(m): \(m) sub-quantizers must divide the dimension \(d)") }
            out.append(text)
            parts = parts.dropFirst()
        } else if let first = parts.first, first.hasPrefix("PCA") {
            // Measured: PCA8,Flat scored an image against itself 0.26, and whitening reorders
            // neighbours; a projection (or whitening) does not keep inner products.
            throw fail("PCA transforms change the vectors, so scores would no longer be cosine similarities and whitening reorders neighbours; use OPQm (a rotation) with PQ or SQ codes to save memory")
        }

        // The index itself.
        guard let core = parts.popFirst() else { throw fail("a transform needs an index after it, e.g. \(out[0]),IVF1024,PQ64") }
        let storage = parts.popFirst()
        if let extra = parts.first { throw unsupported(extra, "the trailing component") }
        if core == "FLAT" {
            if let storage { throw unsupported(storage, "after Flat, the component") }
            out.append("Flat")
        } else if core.hasPrefix("HNSW") {
            out.append(try hnsw(core.dropFirst(4), core))
            switch storage {
            case nil, "FLAT"?: out.append("Flat")
            case let s? where scalar(s) != nil: out.append(scalar(s)!)
            case let s?: throw unsupported(s, "as HNSW storage, the component")
            }
        } else if core.hasPrefix("IVF") {
            let (nlist, rest) = try number(core.dropFirst(3), "IVF list count")
            guard let nlist else { throw fail("IVF needs a list count, e.g. IVF1024") }
            guard ivfListRange.contains(nlist) else {
                throw fail("IVF list count is \(nlist); it must be between \(ivfListRange.lowerBound) and \(ivfListRange.upperBound)")
            }
            var text = "IVF\(nlist)"
            if rest.hasPrefix("_HNSW") {
                text += "_" + (try hnsw(rest.dropFirst(5), core))
            } else if !rest.isEmpty {
                throw unsupported(core, "the component")
            }
            out.append(text)
            guard let storage else { throw fail("IVF needs a storage after it, e.g. IVF\(nlist),Flat or IVF\(nlist),PQ16") }
            if storage == "FLAT" {
                out.append("Flat")
            } else if let sq = scalar(storage) {
                out.append(sq)
            } else if let p = try pq(storage, d) {
                out.append(p)
            } else {
                throw unsupported(storage, "as IVF storage, the component")
            }
        } else if let sq = scalar(core) {
            if let storage { throw unsupported(storage, "after \(sq), the component") }
            out.append(sq)
        } else if let p = try pq(core, d) {
            // FAISS 1.7.3's IndexPQ refuses id filters; one inverted list scans the same codes.
            throw fail("'\(p)' alone is not an index type Kestrel can search (FAISS cannot filter its results);"
                       + " IVF1,\(p) scans the same codes; --index-type takes \(supportedForms)")
        } else {
            throw unsupported(core, "the component")
        }
        return out.joined(separator: ",")
    }

    /// The fewest vectors `factory` (canonical, aliases resolved) can be trained on: k-means
    /// needs at least as many points as centroids, so IVFn needs n, PQm[xb] 2^b (8 bits by
    /// default), OPQ 256 (it trains an 8-bit PQ); SQ needs 1 to find value ranges; 0 for types
    /// without training (Flat, HNSW over full vectors).
    public static func minimumTrainingCount(factory: String) -> Int {
        var need = 0
        for part in factory.uppercased().split(separator: ",") {
            if part.hasPrefix("IVF"), let n = Int(part.dropFirst(3).prefix { $0.isNumber }) {
                need = max(need, n)
            } else if part.hasPrefix("OPQ") {
                need = max(need, 256)
            } else if part.hasPrefix("PQ") {
                let bits = part.firstIndex(of: "X").flatMap { Int(part[part.index(after: $0)...].prefix { $0.isNumber }) } ?? 8
                need = max(need, 1 << min(bits, 30))
            } else if part.hasPrefix("SQ") || part.hasPrefix("PCA") {
                need = max(need, 1)
            }
        }
        return need
    }
}

/// Checks on tuning requests (the tuning itself is `VectorIndex.tune`).
public enum IndexTuner {
    /// Throws `IndexError.invalidArgument` unless `target` is a recall in (0, 1] (NaN is not).
    public static func checkRecallTarget(_ target: Double) throws {
        guard target > 0, target <= 1 else {
            throw IndexError.invalidArgument("the recall target must be a number in (0, 1], got \(target)")
        }
    }
}
