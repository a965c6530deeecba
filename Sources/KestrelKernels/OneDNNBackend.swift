import CDNNL
import Foundation

// The oneDNN GEMM backend: weights reordered once into oneDNN's preferred layout (fp32, bf16, or
// int8 per output channel), products on oneDNN 2.6's matmul with bias and the activation or the
// residual sum fused into its epilogue. The C side is Sources/CDNNL.
//
// - fp32: always (where oneDNN loads).
// - bf16: weights bf16, activations rounded to bf16 per call, fp32 accumulation and output.
//   Only with AVX512-BF16.
// - int8: weights s8 per output channel (symmetric), activations quantised per call per tensor
//   (u8 with a zero point by default), int32 accumulation, fp32 output with bias and epilogue in
//   fp32. Only with AVX512-VNNI or AVX-VNNI. Scales and bias are runtime binary post-ops
//   (Int8Epilogue.postOps), which keeps oneDNN 2.6 on brgemm; runtime output scales would send it
//   to its older gemm:jit.
//
// Layout: the weight layout is the one oneDNN asks for at 1024 rows (the big-batch case); every
// product, whatever its rows, is made against that same layout (checked for 1..1600 rows: oneDNN
// keeps its brgemm kernels for fp32 and bf16 at every size).
//
// Failures: if oneDNN refuses to pack a weight, the weight is kept as fp32 on the reference
// (OpenBLAS) path; if a product fails, the packed weight is unpacked to fp32 once and that product
// and later ones run on the reference path. Either way a note goes to `OneDNNBackend.notes` and
// standard error (once per message); nothing crashes.

/// How int8 products quantise their activations per call.
public enum Int8Activations: Sendable, CaseIterable {
    /// u8 with a zero point over [min(0, min x), max(0, max x)]: 255 steps over the actual range
    /// (the default; GELU outputs, which are almost all >= -0.17, keep twice the resolution).
    case u8ZeroPoint
    /// s8 symmetric over [-max|x|, max|x|].
    case s8Symmetric

    var code: Int32 { self == .u8ZeroPoint ? CDNNL_INT8_U8_ZP : CDNNL_INT8_S8 }
}

/// How int8 products apply the scales and the bias (oneDNN 2.6 picks its kernel from this).
public enum Int8Epilogue: Sendable, CaseIterable {
    /// Scales (activation scale x per-channel weight scales, [1, N] per call) and bias as runtime
    /// binary post-ops: oneDNN runs brgemm on VNNI with its blocked weight layout (the default).
    case postOps
    /// Runtime per-column output scales and the matmul bias divided by them per call (the first
    /// formulation): oneDNN 2.6 falls back to its older gemm:jit with plain weights. For comparison.
    case outputScales
}

final class OneDNNPacked: PackedWeight, @unchecked Sendable {
    let precision: Precision
    let out: Int
    let `in`: Int
    /// oneDNN's packed weight, or nil when the weight lives on the reference path.
    let handle: OpaquePointer?
    private let lock = NSLock()
    private var fallbackStorage: OpenBLASPacked?

    init(precision: Precision, out: Int, in k: Int, handle: OpaquePointer?, fallback: OpenBLASPacked?) {
        self.precision = precision
        self.out = out
        self.in = k
        self.handle = handle
        fallbackStorage = fallback
    }

    var bytes: Int {
        if let handle { return Int(cdnnl_weight_bytes(handle)) }
        return lock.withLock { fallbackStorage?.bytes ?? 0 }
    }

    /// The layout oneDNN chose ("reference" on the fallback path).
    var layout: String { handle.map { String(cString: cdnnl_weight_layout($0)) } ?? "reference" }

    /// Whether a product on this weight failed in oneDNN: later products go to the reference path
    /// at once instead of paying for the failed primitive's creation again.
    var failed: Bool {
        get { lock.withLock { failedStorage } }
        set { lock.withLock { failedStorage = newValue } }
    }
    private var failedStorage = false

    /// The fp32 weight for the reference path, unpacked from oneDNN's on first use.
    func fallback() -> OpenBLASPacked? {
        lock.withLock {
            if let fallbackStorage { return fallbackStorage }
            guard let handle else { return nil }
            let w = UnsafeMutablePointer<Float>.allocate(capacity: max(1, out * self.in))
            defer { w.deallocate() }
            guard cdnnl_unpack(handle, w) == CDNNL_OK else { return nil }
            fallbackStorage = OpenBLASPacked(copying: w, out: out, in: self.in)
            return fallbackStorage
        }
    }

    deinit { if let handle { cdnnl_weight_free(handle) } }
}

public final class OneDNNBackend: GEMMBackend, @unchecked Sendable {
    public let name = "onednn"
    /// What this backend believes the processor has (tests pass reduced sets).
    public let capabilities: GEMMCapabilities
    public let int8Activations: Int8Activations
    public let int8Epilogue: Int8Epilogue
    private let reference = OpenBLASBackend()

    public init(capabilities: GEMMCapabilities = .detected, int8Activations: Int8Activations = .u8ZeroPoint) {
        self.capabilities = capabilities
        self.int8Activations = int8Activations
        self.int8Epilogue = .postOps
    }

    /// As init(capabilities:int8Activations:), with the int8 epilogue chosen (benchmarks, tests).
    public init(capabilities: GEMMCapabilities = .detected, int8Activations: Int8Activations = .u8ZeroPoint,
                int8Epilogue: Int8Epilogue) {
        self.capabilities = capabilities
        self.int8Activations = int8Activations
        self.int8Epilogue = int8Epilogue
    }

    private var int8Mode: Int32 { int8Activations.code | (int8Epilogue == .outputScales ? CDNNL_INT8_OUTPUT_SCALES : 0) }

    /// The process-wide instance on this processor, or nil when oneDNN is not available.
    public static let shared: OneDNNBackend? = GEMMCapabilities.detected.onednn ? OneDNNBackend() : nil

    public func supports(_ precision: Precision) -> Bool { capabilities.missing(for: precision) == nil }

    public func pack(weight: UnsafePointer<Float>, out: Int, in k: Int, precision: Precision) -> PackedWeight {
        precondition(supports(precision), "onednn backend: \(precision) is not supported here")
        if out == 0 || k == 0 {
            // Nothing for oneDNN to do: an empty product is the bias alone.
            return OneDNNPacked(precision: precision, out: out, in: k, handle: nil,
                                fallback: OpenBLASPacked(copying: weight, out: out, in: k))
        }
        var handle: OpaquePointer?
        let code: Int32 = precision == .fp32 ? CDNNL_F32 : precision == .bf16 ? CDNNL_BF16 : CDNNL_INT8
        let rc = cdnnl_pack(weight, Int64(out), Int64(k), code, int8Mode, &handle)
        if rc != CDNNL_OK || handle == nil {
            OneDNNBackend.note("oneDNN could not pack a \(out)x\(k) \(precision.rawValue) weight (\(String(cString: cdnnl_last_error()))); that layer runs fp32 on OpenBLAS")
            return OneDNNPacked(precision: .fp32, out: out, in: k, handle: nil,
                                fallback: OpenBLASPacked(copying: weight, out: out, in: k))
        }
        return OneDNNPacked(precision: precision, out: out, in: k, handle: handle, fallback: nil)
    }

    public func linear(
        _ x: UnsafePointer<Float>, rows: Int, weight: PackedWeight, bias: UnsafePointer<Float>?,
        activation: Activation?, accumulate: Bool, into y: UnsafeMutablePointer<Float>, threads: Int
    ) {
        let w = weight as! OneDNNPacked
        guard rows > 0, w.out > 0 else { return }
        precondition(threads >= 1, "onednn linear: threads must be at least 1, got \(threads)")
        if let handle = w.handle, !w.failed {
            let act = OneDNNBackend.code(activation)
            // The shim caps the team at 1024 threads; capped here too so the conversion cannot trap.
            let rc = cdnnl_linear(handle, x, Int64(rows), bias, act, accumulate ? 1 : 0, y, Int32(min(threads, 1024)))
            if rc == CDNNL_OK { return }
            w.failed = true
            // With accumulate, y may have been half-written: such a failure cannot be recovered
            // from; oneDNN validates everything before it writes, so it fails before touching y.
            OneDNNBackend.note("oneDNN failed a \(rows)x\(w.in) by \(w.out) \(w.precision.rawValue) product (\(String(cString: cdnnl_last_error()))); that layer runs fp32 on OpenBLAS from now on")
        }
        guard let f = w.fallback() else {
            preconditionFailure("onednn linear: the weight could not be unpacked for the fallback: \(String(cString: cdnnl_last_error()))")
        }
        reference.linear(x, rows: rows, weight: f, bias: bias, activation: activation, accumulate: accumulate, into: y, threads: threads)
    }

    static func code(_ activation: Activation?) -> Int32 {
        switch activation {
        case nil: CDNNL_ACT_NONE
        case .gelu: CDNNL_ACT_GELU_ERF
        case .geluTanh: CDNNL_ACT_GELU_TANH
        case .quickGelu: CDNNL_ACT_QUICK_GELU
        }
    }

    /// The oneDNN implementation a product of `rows` rows on `weight` runs on, as DNNL_VERBOSE
    /// names it ("brg:avx512_core_vnni", "gemm:jit", ...), or "reference" off oneDNN.
    public static func implementation(of weight: PackedWeight, rows: Int, bias: Bool = true, activation: Activation? = nil,
                                      accumulate: Bool = false, threads: Int = 1) -> String {
        guard let w = weight as? OneDNNPacked, let handle = w.handle else { return "reference" }
        return String(cString: cdnnl_implementation(handle, Int64(rows), bias ? 1 : 0, code(activation), accumulate ? 1 : 0, Int32(threads)))
    }

    /// Bounds oneDNN's product cache to `limit` primitives (least recently used evicted first;
    /// default 256). Primitives in use finish first.
    public static func setPrimitiveCacheLimit(_ limit: Int) { cdnnl_cache_set_limit(Int64(limit)) }

    /// Primitives evicted from the product cache so far.
    public static var primitiveCacheEvictions: Int { Int(cdnnl_cache_evictions()) }

    /// The oneDNN layout of a packed weight (for benchmarks), or "reference".
    public static func layout(of weight: PackedWeight) -> String { (weight as? OneDNNPacked)?.layout ?? "reference" }

    // MARK: notes

    private static let noteLock = NSLock()
    nonisolated(unsafe) private static var noteList: [String] = []

    /// Fallback notes so far (each once), in order.
    public static var notes: [String] { noteLock.withLock { noteList } }

    static func note(_ message: String) {
        let isNew = noteLock.withLock { () -> Bool in
            if noteList.contains(message) { return false }
            noteList.append(message)
            return true
        }
        if isNew { FileHandle.standardError.write(Data(("kestrel: note: " + message + "\n").utf8)) }
    }

    /// Primitives in oneDNN's product cache, and the seconds spent creating them.
    public static var primitiveCache: (entries: Int, creationSeconds: Double) {
        (Int(cdnnl_cache_entries()), Double(cdnnl_cache_create_ns()) / 1e9)
    }
}
