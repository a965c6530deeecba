import ArgumentParser
import Foundation
import KestrelFiles
import KestrelEngine

@main
struct Kestrel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kestrel",
        abstract: "Vision-language retrieval: embed, index, search and label images with CLIP models.",
        subcommands: [TokenizeCommand.self, EmbedCommand.self, InfoCommand.self, IndexCommand.self, SearchCommand.self, LabelCommand.self,
                      EvalCommand.self, BenchCommand.self, DataCommand.self, TrainCommand.self, ServeCommand.self, GroundCommand.self])

    /// ArgumentParser's `main`, with two changes: the text of an `Error:` line is escaped like
    /// every other message (no control character from a user's argument reaches the terminal),
    /// and a usage error found while a command runs (a `ValidationError` thrown from `run()`, e.g.
    /// a class list read from a file) is shown with that command's usage line, not the root's.
    static func main() {
        // Training: libgomp's default spin-waiting between the many short parallel regions of a
        // step cost 40% here (59.4 against 35.9 samples/s, default recipe, 2 cores, one run each);
        // the policy is read when libgomp loads, so the process restarts with it set (unless the
        // user set OMP_WAIT_POLICY or GOMP_SPINCOUNT, or KESTREL_OMP_REEXEC=0).
        if CommandLine.arguments.dropFirst().first == "train" { OpenMPWaitPolicy.restartPassiveIfUnset() }
        var command: ParsableCommand
        do { command = try parseAsRoot() } catch { exitShowing(error, for: nil) }
        // Commands that build work folders remove them on Ctrl-C, SIGTERM or SIGHUP (the others,
        // `serve` above all, keep the signals' usual handling).
        if command is MakesWorkFolders { InterruptCleanup.install() }
        do { try command.run() } catch { exitShowing(error, for: type(of: command)) }
        Foundation.exit(0)
    }

    private static func exitShowing(_ error: Error, for subcommand: ParsableCommand.Type?) -> Never {
        let code = exitCode(for: error)
        guard code != .success else { exit(withError: error) }  // --help and friends: as ArgumentParser prints them
        let message = self.message(for: error)
        var full: String
        if let subcommand, let e = error as? ValidationError {
            let names = CommandParser.names(of: subcommand)
            full = "Error: \(e.message)\n" + usageString(for: subcommand).usageLine + "\n  See '\(names) --help' for more information."
        } else {
            full = fullMessage(for: error)
        }
        if !message.isEmpty, let range = full.range(of: message) {
            full.replaceSubrange(range, with: Console.terminalText(message))
        }
        if !full.isEmpty { FileHandle.standardError.write(Data((full + "\n").utf8)) }
        Foundation.exit(code.rawValue)
    }
}

/// The full command name of a subcommand ("kestrel index add").
enum CommandParser {
    static func names(of command: ParsableCommand.Type) -> String {
        func path(_ node: ParsableCommand.Type, _ prefix: [String]) -> [String]? {
            let here = prefix + [node.configuration.commandName ?? "\(node)".lowercased()]
            if node == command { return here }
            for sub in node.configuration.subcommands { if let p = path(sub, here) { return p } }
            return nil
        }
        return (path(Kestrel.self, []) ?? ["kestrel"]).joined(separator: " ")
    }
}

private extension String {
    /// "Usage: ..." as ArgumentParser writes it.
    var usageLine: String { hasPrefix("Usage:") ? self : "Usage: " + self }
}

/// A command that builds work folders (`InterruptCleanup`): they are removed when it is stopped by a signal.
protocol MakesWorkFolders {}

extension DataBuildCommand: MakesWorkFolders {}
extension DataGroundingCommand: MakesWorkFolders {}
extension EvalGroundingCommand: MakesWorkFolders {}
extension TrainCommand: MakesWorkFolders {}
