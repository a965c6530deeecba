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

    /// Throws `IndexError.unknownFactory` naming the first number in `factory` that is out of
    /// range: HNSW M in `hnswMRange`, IVF lists in `ivfListRange`, PQ sub-quantizers at least 1
    /// and (when `dimension` is known) dividing the dimension they apply to, PQ bits in
    /// `pqBitsRange`, OPQ / PCA / RR output sizes at least 1 (PCA at most its input dimension).
    /// Aliases always pass. Components this check does not know are left to FAISS, which
    /// rejects what it cannot parse.
    public static func validate(factory: String, dimension: Int?) throws {
        let spec = factory.trimmingCharacters(in: .whitespaces)
        func fail(_ reason: String) -> IndexError { .unknownFactory(factory, reason: reason) }
        guard !spec.isEmpty else { throw fail("empty factory string") }
        guard spec.count <= maxFactoryLength else { throw fail("longer than \(maxFactoryLength) characters") }
        if aliases.contains(spec.lowercased()) { return }
        if let dimension, dimension < 1 { throw fail("the vectors' dimension is \(dimension)") }

        /// The digits at the start of `s` as a number (nil: no digits), and what follows them.
        func number(_ s: Substring, _ what: String) throws -> (Int?, Substring) {
            let digits = s.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty else { return (nil, s) }
            guard let n = Int(digits) else { throw fail("\(what) \(digits) is too large") }
            return (n, s.dropFirst(digits.count))
        }
        func checkHNSW(_ rest: Substring) throws {
            let (m, _) = try number(rest, "HNSW M")
            if let m, !hnswMRange.contains(m) {
                throw fail("HNSW M (links per node) is \(m); it must be between \(hnswMRange.lowerBound) and \(hnswMRange.upperBound)")
            }
        }

        var d = dimension  // the dimension the next component sees (PCA / OPQ / RR change it)
        for component in spec.uppercased().split(separator: ",", omittingEmptySubsequences: false) {
            guard !component.isEmpty else { throw fail("empty component between commas") }
            if component.hasPrefix("HNSW") {
                try checkHNSW(component.dropFirst(4))
            } else if component.hasPrefix("IVF") {
                let (nlist, rest) = try number(component.dropFirst(3), "IVF list count")
                guard let nlist else { throw fail("IVF needs a list count, e.g. IVF1024") }
                guard ivfListRange.contains(nlist) else {
                    throw fail("IVF list count is \(nlist); it must be between \(ivfListRange.lowerBound) and \(ivfListRange.upperBound)")
                }
                if rest.hasPrefix("_HNSW") { try checkHNSW(rest.dropFirst(5)) }
            } else if component.hasPrefix("OPQ") {
                let (m, rest) = try number(component.dropFirst(3), "OPQ sub-quantizer count")
                guard let m, m >= 1 else { throw fail("OPQ needs at least 1 sub-quantizer, e.g. OPQ16") }
                if rest.hasPrefix("_") {
                    let (out, _) = try number(rest.dropFirst(), "OPQ output dimension")
                    guard let out, out >= 1 else { throw fail("OPQ output dimension must be at least 1") }
                    d = out
                }
                if let d, d % m != 0 { throw fail("OPQ\(m): \(m) sub-quantizers must divide the dimension \(d)") }
            } else if component.hasPrefix("PQ") {
                let (m, rest) = try number(component.dropFirst(2), "PQ sub-quantizer count")
                guard let m, m >= 1 else { throw fail("PQ needs at least 1 sub-quantizer, e.g. PQ16") }
                if let d, d % m != 0 { throw fail("PQ\(m): \(m) sub-quantizers must divide the dimension \(d)") }
                if rest.hasPrefix("X") {
                    let (bits, _) = try number(rest.dropFirst(), "PQ bits")
                    guard let bits, pqBitsRange.contains(bits) else {
                        throw fail("PQ bits per code must be between \(pqBitsRange.lowerBound) and \(pqBitsRange.upperBound)")
                    }
                }
            } else if component.hasPrefix("PCA") {
                let (out, _) = try number(component.dropFirst(3).drop { $0 == "W" || $0 == "R" }, "PCA output dimension")
                guard let out, out >= 1 else { throw fail("PCA output dimension must be at least 1") }
                if let d, out > d { throw fail("PCA\(out) cannot raise the dimension \(d)") }
                d = out
            } else if component.hasPrefix("RR") {
                let (out, _) = try number(component.dropFirst(2), "RR output dimension")
                guard let out, out >= 1 else { throw fail("RR output dimension must be at least 1") }
                d = out
            }
        }
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
