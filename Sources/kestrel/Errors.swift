import ArgumentParser
import Foundation
import KestrelEngine
import KestrelFiles

/// Runs a command body, printing library errors as one `error:` line (exit 1) instead of
/// ArgumentParser's `Error:` line. Every command's `run()` goes through this; usage errors
/// (`ValidationError`) and exit codes pass as they are.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ExitCode { throw e } catch let e as ValidationError { throw e } catch let e as CleanExit { throw e } catch {
        Console.error(ErrorText.plain(error))
        throw ExitCode(1)
    }
}

/// A command's own refusal that is not a usage error (the folder an index recorded as its model
/// no longer holds one; an index whose precision cannot run here): printed by `reportingErrors` as
/// one `error:` line with exit 1, like every library error.
struct CommandFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
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
