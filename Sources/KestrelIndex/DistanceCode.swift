import CFaiss

/// The code that computes inner products over FAISS's flat storage: `Flat`, the storage of
/// `HNSW*,Flat` (graph build and search) and the coarse quantizer of `IVF*`.
///
/// Debian's libfaiss 1.7.3 is built for baseline x86-64, so its own distance code is a scalar
/// loop; the CFaiss shim carries SIMD kernels (Sources/CFaiss/fast_flat.cpp) picked by a runtime
/// CPU check and swaps them into every index it creates or reads. Files stay FAISS's format.
/// Results agree with FAISS's own code to float rounding (the sums run in another order).
/// Not covered (FAISS's own code): IVF list scanning, SQ and PQ codes.
public enum DistanceCode: Int32, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    /// FAISS's own code (Debian: scalar); indexes keep plain FAISS classes.
    case faiss = 0
    /// Portable C++ with 8 partial sums (any x86-64 or other CPU).
    case portable = 1
    /// AVX2 + FMA.
    case avx2 = 2
    /// AVX-512F.
    case avx512 = 3

    public static func < (a: DistanceCode, b: DistanceCode) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .faiss: "faiss"
        case .portable: "portable"
        case .avx2: "avx2"
        case .avx512: "avx512"
        }
    }

    /// The best level this CPU supports.
    public static var best: DistanceCode { DistanceCode(rawValue: cfaiss_simd_best()) ?? .faiss }

    /// The level in effect for indexes created or read from now on and for every search: the best
    /// one, unless the environment variable `KESTREL_FAISS_SIMD` (faiss|portable|avx2|avx512) caps it.
    public static var current: DistanceCode { DistanceCode(rawValue: cfaiss_simd_level()) ?? .faiss }

    /// Test and benchmark hook: sets the level process-wide (clamped to `best`) and returns the
    /// level in effect. Not for use while other threads create, read or search indexes.
    @discardableResult
    public static func set(_ level: DistanceCode) -> DistanceCode {
        DistanceCode(rawValue: cfaiss_set_simd_level(level.rawValue)) ?? .faiss
    }

    /// <x, y> with the kernel of `level` (clamped to `best`). Precondition: equal lengths.
    public static func innerProduct(_ x: [Float], _ y: [Float], level: DistanceCode) -> Float {
        precondition(x.count == y.count, "innerProduct: lengths \(x.count) and \(y.count) differ")
        return cfaiss_inner_product(level.rawValue, x, y, Int64(x.count))
    }
}

extension VectorIndex {
    /// Whether this index's flat storage runs on the shim's SIMD code (`DistanceCode`).
    public var usesFastStorage: Bool { reading { cfaiss_uses_fast_storage(handle) != 0 } }
}
