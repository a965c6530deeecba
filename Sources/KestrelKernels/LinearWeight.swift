import Foundation

// The GEMM backend seam. A linear layer's weight is packed once, at load, by the backend that
// will run it, in the precision asked for; every product then goes through that backend.
// Backends claim what they do well (`GEMMBackend.supports`), the way ggml's BLAS backend
// claims only large products. The OpenBLAS backend is the portable reference that tests compare
// every other backend against.

/// What a backend can be asked to do with a packed weight.
public protocol GEMMBackend: AnyObject, Sendable {
    /// A short name for messages and benchmarks ("openblas", "onednn").
    var name: String { get }
    /// Whether this backend runs products in `precision` on this processor.
    func supports(_ precision: Precision) -> Bool
    /// Packs `weight[out, in]` (row-major fp32, PyTorch layout) for products in `precision`.
    /// The backend owns the returned storage; the caller may free `weight` afterwards.
    func pack(weight: UnsafePointer<Float>, out: Int, in: Int, precision: Precision) -> PackedWeight
    /// y[rows, out] = act(x[rows, in] * W^T + bias), or y += x W^T + bias when `accumulate` (a
    /// residual; never together with an activation), on at most `threads` threads. `x` and `y` are
    /// row-major with leading dimensions `in` and `out`; they do not overlap.
    func linear(
        _ x: UnsafePointer<Float>, rows: Int, weight: PackedWeight, bias: UnsafePointer<Float>?,
        activation: Activation?, accumulate: Bool, into y: UnsafeMutablePointer<Float>, threads: Int)
}

/// Backend-owned packed storage of one weight matrix (opaque to callers).
public protocol PackedWeight: AnyObject, Sendable {
    var precision: Precision { get }
    var out: Int { get }
    var `in`: Int { get }
    /// Bytes held by the packed form (for memory accounting).
    var bytes: Int { get }
}

/// A linear layer's weight `[out, in]` and bias `[out]`, packed by `backend` in `precision`.
public final class LinearWeight: Sendable {
    public let outFeatures: Int
    public let inFeatures: Int
    public let precision: Precision
    public let backend: any GEMMBackend
    public let packed: any PackedWeight
    public let bias: [Float]?

    /// weight: `[out, in]`; bias: `[out]` or nil. Precondition: `backend.supports(precision)`.
    public init(weight: Tensor, bias: Tensor?, precision: Precision = .fp32, backend: any GEMMBackend = GEMMBackends.reference) {
        precondition(weight.rank == 2, "LinearWeight: weight must be [out, in], got \(weight.shape)")
        precondition(backend.supports(precision), "LinearWeight: backend \(backend.name) does not run \(precision)")
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
        if let bias { precondition(bias.count == outFeatures, "LinearWeight: bias has \(bias.count) values for \(outFeatures) outputs") }
        self.precision = precision
        self.backend = backend
        self.bias = bias?.data
        packed = weight.data.withUnsafeBufferPointer {
            backend.pack(weight: $0.baseAddress!, out: weight.shape[0], in: weight.shape[1], precision: precision)
        }
    }

    /// y[rows, out] = act(x[rows, in] W^T + bias) (+ y when `accumulate`).
    public func apply(
        _ x: UnsafePointer<Float>, rows: Int, activation: Activation? = nil, accumulate: Bool = false,
        into y: UnsafeMutablePointer<Float>, threads: Int = Kernels.threads
    ) {
        precondition(activation == nil || !accumulate, "LinearWeight.apply: an activation and accumulate together")
        guard rows > 0, outFeatures > 0 else { return }
        if let bias {
            bias.withUnsafeBufferPointer { b in
                backend.linear(x, rows: rows, weight: packed, bias: b.baseAddress, activation: activation,
                               accumulate: accumulate, into: y, threads: threads)
            }
        } else {
            backend.linear(x, rows: rows, weight: packed, bias: nil, activation: activation,
                           accumulate: accumulate, into: y, threads: threads)
        }
    }
}

/// A backend and the precision it will run, chosen for a requested precision.
public struct GEMMChoice: Sendable {
    public let backend: any GEMMBackend
    /// The precision actually used (fp32 when the requested one cannot run here).
    public let precision: Precision
    /// Why the requested precision or the fastest backend is not used, for the user; nil if it is.
    public let note: String?
}

/// The backends this build has.
public enum GEMMBackends {
    /// OpenBLAS sgemm (plus the skinny kernel for few rows): fp32 only, the reference path.
    public static let reference: any GEMMBackend = OpenBLASBackend()

    /// The oneDNN backend, or nil when oneDNN is not available in this process.
    public static var onednn: OneDNNBackend? { OneDNNBackend.shared }

    /// The fastest backend that runs `precision` on this processor: oneDNN for every precision
    /// the processor has the instructions for; otherwise fp32 (on oneDNN, or OpenBLAS without
    /// it) with a note saying what is missing. `KESTREL_GEMM=openblas|onednn` in the environment
    /// forces a backend (benchmarks, tests); openblas runs fp32 only.
    public static func choose(for precision: Precision) -> GEMMChoice {
        choose(for: precision, capabilities: .detected, environment: ProcessInfo.processInfo.environment)
    }

    /// `choose(for:)` with the processor's capabilities and the environment given (tests simulate
    /// a processor without AVX512-BF16 or VNNI this way).
    public static func choose(
        for precision: Precision, capabilities: GEMMCapabilities, environment: [String: String]
    ) -> GEMMChoice {
        var notes: [String] = []
        var useOneDNN = capabilities.onednn
        switch environment["KESTREL_GEMM"]?.lowercased() {
        case nil, "": break
        case "openblas": useOneDNN = false
        case "onednn":
            if !capabilities.onednn { notes.append("KESTREL_GEMM=onednn, but oneDNN (libdnnl) is not available in this process; using OpenBLAS") }
        case let other?:
            notes.append("KESTREL_GEMM=\(other) is not a backend (openblas or onednn); ignored")
        }
        let choice: GEMMChoice
        if useOneDNN {
            let backend: OneDNNBackend = capabilities == .detected ? (OneDNNBackend.shared ?? OneDNNBackend(capabilities: capabilities))
                : OneDNNBackend(capabilities: capabilities)
            if let missing = capabilities.missing(for: precision) {
                notes.append("\(missing); using fp32")
                choice = GEMMChoice(backend: backend, precision: .fp32, note: nil)
            } else {
                choice = GEMMChoice(backend: backend, precision: precision, note: nil)
            }
        } else if reference.supports(precision) {
            choice = GEMMChoice(backend: reference, precision: precision, note: nil)
        } else {
            let why = environment["KESTREL_GEMM"]?.lowercased() == "openblas" ? "KESTREL_GEMM=openblas runs fp32 only"
                : capabilities.missing(for: precision) ?? "precision \(precision.rawValue) is not available in this build"
            notes.append("\(why); using fp32")
            choice = GEMMChoice(backend: reference, precision: .fp32, note: nil)
        }
        return GEMMChoice(backend: choice.backend, precision: choice.precision, note: notes.isEmpty ? nil : notes.joined(separator: "; "))
    }
}
