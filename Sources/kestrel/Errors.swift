import ArgumentParser
import Foundation
import KestrelEngine

/// Runs a command body, printing library errors as one `error:` line (exit 1) instead of
/// ArgumentParser's `Error:` line. Every command's `run()` goes through this; usage errors
/// (`ValidationError`) and exit codes pass as they are.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ExitCode { throw e } catch let e as ValidationError { throw e } catch let e as CleanExit { throw e } catch {
        Console.error("\(error)")
        throw ExitCode(1)
    }
}

extension JSONValue {
    /// The value as plain text (for `stats` without --json).
    var plain: String {
        switch self {
        case .string(let s): return s
        case .null: return "-"
        default: return line
        }
    }
}
