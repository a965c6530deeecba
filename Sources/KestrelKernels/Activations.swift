#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Elementwise activations, in place. PyTorch formulas:
//   gelu(x)      = 0.5 x (1 + erf(x / sqrt 2))                     (nn.GELU())
//   quickGelu(x) = x sigmoid(1.702 x)                                (OpenAI CLIP)
//   geluTanh(x)  = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))   (nn.GELU("tanh"), gelu_new)

/// The activation a model config names (`hidden_act` / `act_layer`).
public enum Activation: String, Sendable, CaseIterable {
    case gelu
    case quickGelu = "quick_gelu"
    case geluTanh = "gelu_pytorch_tanh"

    /// Config spellings accepted by `init(configName:)`.
    public static let supportedConfigNames = ["gelu", "quick_gelu", "gelu_pytorch_tanh", "gelu_new"]

    /// Parses a config's activation name; `gelu_new` is the tanh approximation.
    public init(configName: String) throws {
        switch configName {
        case "gelu": self = .gelu
        case "quick_gelu": self = .quickGelu
        case "gelu_pytorch_tanh", "gelu_new": self = .geluTanh
        default: throw KernelError.unknownActivation(configName)
        }
    }

    /// Applies the activation in place.
    public func apply(_ x: inout Tensor) {
        switch self {
        case .gelu: KestrelKernels.gelu(&x)
        case .quickGelu: KestrelKernels.quickGelu(&x)
        case .geluTanh: KestrelKernels.geluTanh(&x)
        }
    }
}

/// Exact (erf) GELU, in place (CKernels; see `activate`).
public func gelu(_ x: inout Tensor) {
    x.data.withUnsafeMutableBufferPointer { b in
        if let p = b.baseAddress { activate(p, count: b.count, .gelu) }
    }
}

/// x * sigmoid(1.702 x), in place (OpenAI CLIP's activation).
public func quickGelu(_ x: inout Tensor) {
    x.data.withUnsafeMutableBufferPointer { b in
        if let p = b.baseAddress { activate(p, count: b.count, .quickGelu) }
    }
}

/// Tanh-approximated GELU, in place, computed as x * sigmoid(2y) with
/// y = sqrt(2/pi) (x + 0.044715 x^3), which equals 0.5 x (1 + tanh y) without cancellation.
public func geluTanh(_ x: inout Tensor) {
    x.data.withUnsafeMutableBufferPointer { b in
        if let p = b.baseAddress { activate(p, count: b.count, .geluTanh) }
    }
}
