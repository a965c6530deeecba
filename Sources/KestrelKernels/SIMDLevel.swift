import CKernels

/// Instruction-set level of the C element-wise kernels (CKernels): LayerNorm, the GELU family,
/// softmax, L2 normalisation, residual add and attention.
public enum SIMDLevel: Int, Sendable, CaseIterable, CustomStringConvertible {
    /// Plain C for baseline x86-64 (or any other processor).
    case portable = 0
    /// AVX2 with FMA, 8 lanes.
    case avx2 = 1
    /// AVX-512 F/BW/VL/DQ, 16 lanes with masked tails.
    case avx512 = 2

    public var description: String {
        switch self {
        case .portable: "portable"
        case .avx2: "avx2"
        case .avx512: "avx512"
        }
    }
}

/// Which build of the element-wise kernels runs. The best level the processor supports is found
/// once, at first use (`__builtin_cpu_supports`); tests and benchmarks may force a lower one.
public enum ElementwiseKernels {
    /// The best level this processor and OS support.
    public static var best: SIMDLevel { SIMDLevel(rawValue: Int(ck_best_level())) ?? .portable }

    /// The level the kernels run at now.
    public static var active: SIMDLevel { SIMDLevel(rawValue: Int(ck_level())) ?? .portable }

    /// Forces `level` (nil: back to the best). Returns false, changing nothing, when the processor
    /// lacks it. Process-wide: call it only while no kernel runs (tests, benchmarks).
    @discardableResult
    public static func force(_ level: SIMDLevel?) -> Bool {
        ck_set_level(Int32(level?.rawValue ?? -1)) == 0
    }
}
