import Foundation

/// Errors raised by the kernel module (shape problems are preconditions, not errors).
public enum KernelError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// A config named an activation we do not implement.
    case unknownActivation(String)

    public var description: String {
        switch self {
        case .unknownActivation(let name):
            return "unknown activation \"\(name)\"; supported: \(Activation.supportedConfigNames.joined(separator: ", "))"
        }
    }

    public var errorDescription: String? { description }
}
