import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Work folders that must not outlive the command that made them, even when it is stopped by
/// SIGINT (Ctrl-C), SIGTERM or SIGHUP: a `defer` does not run then.
///
/// Library code `register`s a folder while it builds it and `release`s it when done (or failed,
/// `removing: true`); that alone only tracks. A program that wants the folders removed on a signal
/// calls `install()` once (the `kestrel` commands that make work folders do; `kestrel serve`,
/// whose service lifecycle owns these signals, does not). Once installed, on a signal: one line on
/// stderr says what is removed, stderr is then silenced (the work still running would only report
/// the files vanishing under it), removals already under way and `withSignalsDeferred` sections
/// are waited for, every registered folder is removed, and the process ends as the signal would
/// have ended it (status 128 + N). Should the main thread reach `exit` meanwhile, the exit waits
/// for the removal and ends by the signal too. A second signal ends the process at once.
/// A signal the process inherited as ignored stays ignored.
public enum InterruptCleanup {
    /// A registration, for `release`.
    public struct Token: Sendable, Hashable { let id: Int }

    /// Removes registered folders on SIGINT, SIGTERM and SIGHUP from now on (once per process).
    public static func install() { Registry.shared.install() }

    /// Starts tracking `url` (a folder, or a file); it need not exist yet.
    public static func register(_ url: URL) -> Token { Registry.shared.add(url.path) }

    /// Stops tracking the registration; with `removing`, also deletes it (everything inside),
    /// even if another registration names the same path.
    public static func release(_ token: Token, removing: Bool) { Registry.shared.release(token, removing: removing) }

    /// Runs `body` with signal handling held off until it returns: for steps that must not be cut
    /// in two (swapping a finished folder into place). A signal meanwhile is handled right after.
    public static func withSignalsDeferred<T>(_ body: () throws -> T) rethrows -> T {
        Registry.shared.enter()
        defer { Registry.shared.leave() }
        return try body()
    }

    /// Deletes `path` and everything under it. It is first renamed aside, so that threads still
    /// writing to the old path fail instead of adding entries while it is being emptied; then
    /// removed, retried a few times; then `path` once more, should a writer have made it again.
    static func removeTree(_ path: String) {
        let fm = FileManager.default
        let url = URL(fileURLWithPath: path)
        let aside = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).removing-\(getpid())")
        for target in [rename(path, aside.path) == 0 ? aside.path : path, path] {
            for _ in 0..<20 {
                var st = stat()
                if lstat(target, &st) != 0 { break }
                if (try? fm.removeItem(atPath: target)) != nil { break }
                usleep(10_000)
            }
        }
    }

    private final class Registry: @unchecked Sendable {
        static let shared = Registry()
        private let condition = NSCondition()
        private var paths: [Int: String] = [:]
        private var next = 0
        /// Removals under way and deferred sections: the handler waits for them.
        private var busy = 0
        private var installed = false
        private var sources: [DispatchSourceSignal] = []
        private let queue = DispatchQueue(label: "kestrel.interrupt-cleanup")   // its own thread: never starved by the work
        /// The signal being handled, once one arrived.
        private var interrupted: Int32 = 0
        private let finished = DispatchSemaphore(value: 0)

        func add(_ path: String) -> Token {
            condition.lock(); defer { condition.unlock() }
            next += 1
            paths[next] = path
            return Token(id: next)
        }

        func release(_ token: Token, removing: Bool) {
            condition.lock()
            let path = paths.removeValue(forKey: token.id)
            guard let path, removing else { condition.unlock(); return }
            busy += 1
            condition.unlock()
            InterruptCleanup.removeTree(path)
            leave()
        }

        func enter() { condition.lock(); busy += 1; condition.unlock() }

        func leave() { condition.lock(); busy -= 1; condition.broadcast(); condition.unlock() }

        private func takeAll() -> [String] {
            defer { paths = [:] }
            return Array(Set(paths.values)).sorted()
        }

        func handle(_ sig: Int32) {
            condition.lock()
            if interrupted != 0 { condition.unlock(); end(sig) }   // a second signal: now
            interrupted = sig
            var all = takeAll()
            if all.isEmpty && busy == 0 { condition.unlock(); end(sig) }   // nothing to clean: as if never installed
            condition.unlock()
            let name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "signal \(sig)"
            let what = all.isEmpty ? "finishing the clean-up under way" : "removing the unfinished work: " + all.map(PathText.escapeControls).joined(separator: ", ")
            let line = (isatty(2) != 0 ? "\n" : "") + "kestrel: interrupted (\(name)); \(what)\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 { dup2(null, 2); close(null) }
            for path in all { InterruptCleanup.removeTree(path) }
            condition.lock()
            let deadline = Date().addingTimeInterval(60)
            while busy > 0 && condition.wait(until: deadline) {}
            all = takeAll()                               // registered while the first ones were removed
            condition.unlock()
            for path in all { InterruptCleanup.removeTree(path) }
            finished.signal()
            end(sig)
        }

        /// At `exit` (atexit): after a signal, waits for the removal and ends by the signal.
        func atExit() {
            condition.lock()
            let sig = interrupted
            condition.unlock()
            guard sig != 0 else { return }
            _ = finished.wait(timeout: .now() + 60)
            end(sig)
        }

        private func end(_ sig: Int32) -> Never {
            signal(sig, SIG_DFL)
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, sig)
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            raise(sig)                 // this thread, unblocked: ends the process
            kill(getpid(), sig)
            usleep(500_000)
            _exit(128 + sig)           // should the signal not have ended it
        }

        func install() {
            condition.lock(); defer { condition.unlock() }
            guard !installed else { return }
            installed = true
            for sig in [SIGINT, SIGTERM, SIGHUP] {
                var old = sigaction()
                sigaction(sig, nil, &old)
                if unsafeBitCast(old.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }   // inherited: stays ignored
                // The signal goes to the source below instead of ending the process at once.
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
                source.setEventHandler { Registry.shared.handle(sig) }
                source.resume()
                sources.append(source)
            }
            atexit { Registry.shared.atExit() }
        }
    }
}
