import CDNNL

/// What this process can run products on: whether oneDNN works, and the processor's reduced-precision
/// instructions as oneDNN sees them (its effective ISA, which `DNNL_MAX_CPU_ISA` can lower).
/// Tests build other values to simulate a processor that lacks an instruction set.
public struct GEMMCapabilities: Sendable, Equatable {
    /// oneDNN loaded and a CPU engine could be created.
    public var onednn: Bool
    /// AVX512-BF16 (`vdpbf16ps`): bf16 products.
    public var avx512BF16: Bool
    /// AVX512-VNNI or AVX-VNNI (`vpdpbusd`): int8 products.
    public var vnni: Bool

    public init(onednn: Bool, avx512BF16: Bool, vnni: Bool) {
        self.onednn = onednn
        self.avx512BF16 = avx512BF16
        self.vnni = vnni
    }

    /// This processor and this build, probed once.
    public static let detected: GEMMCapabilities = {
        let available = cdnnl_available() != 0
        return GEMMCapabilities(
            onednn: available, avx512BF16: available && cdnnl_cpu_has_avx512_bf16() != 0,
            vnni: available && cdnnl_cpu_has_vnni() != 0)
    }()

    /// Why `precision` cannot run on oneDNN here, for the user; nil when it can.
    public func missing(for precision: Precision) -> String? {
        if !onednn { return "oneDNN (libdnnl) is not available in this process" }
        switch precision {
        case .fp32: return nil
        case .bf16: return avx512BF16 ? nil : "bf16 needs AVX512-BF16, which this processor lacks"
        case .int8: return vnni ? nil : "int8 needs AVX512-VNNI or AVX-VNNI, which this processor lacks"
        }
    }
}
