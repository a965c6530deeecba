import Foundation

/// Errors of `kestrel data build`: each names the file or package and says what to do next.
public enum DataBuildError: Error, CustomStringConvertible, Equatable {
    /// A source file is missing: `package` is the Debian package that provides it.
    case missingSource(package: String, path: String)
    /// A source file is there but damaged (bad magic number, truncated table, ...).
    case damaged(path: String, detail: String)
    /// A command-line value is out of range or unknown.
    case badArgument(String)
    /// Writing the output failed.
    case writeFailed(path: String, detail: String)
    /// The output place already holds what a run would write (never overwritten or mixed with).
    case outputInUse(path: String, detail: String)

    public var description: String {
        switch self {
        case let .missingSource(package, path):
            return "\(path) is missing: install \(package): scripts/install-deps.sh (or apt-get install \(package))"
        case let .damaged(path, detail):
            return "\(path) is damaged: \(detail); reinstall its package (apt-get install --reinstall)"
        case let .badArgument(detail):
            return "data build: \(detail)"
        case let .writeFailed(path, detail):
            return "could not write \(path): \(detail); check the output folder is writable and the disk has room"
        case let .outputInUse(path, detail):
            return "\(path) \(detail)"
        }
    }
}
