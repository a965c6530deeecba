import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Work folders that must not outlive the command that made them, even when it is stopped by
/// SIGINT (Ctrl-C) or SIGTERM: a `defer` does not run then. Register a folder while it exists;
/// `release` it when done. On the first registration the process starts watching both signals
/// (once; a signal the process inherited as ignored stays ignored). On a signal: one line on
/// stderr says so, stderr is then silenced (the work still running would only report the files
/// vanishing under it), every registered folder is removed, and the process ends as the signal
/// would have ended it (status 128 + N). Should the main thread reach `exit` meanwhile (its work
/// failed because the folder went away), the exit waits for the removal and ends by the signal too.
///
/// Not for `kestrel serve`, whose service lifecycle owns these signals.
public enum InterruptCleanup {
    /// A registration, for `release`.
    public struct Token: Sendable, Hashable { let id: Int }

    /// Starts protecting `url` (a folder, or a file); it need not exist yet.
    public static func register(_ url: URL) -> Token { Registry.shared.add(url.path) }

    /// Stops protecting the registration; with `removing`, also deletes it (everything inside).
    public static func release(_ token: Token, removing: Bool) {
        guard let path = Registry.shared.take(token), removing else { return }
        removeTree(path)
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
        private let lock = NSLock()
        private var paths: [Int: String] = [:]
        private var next = 0
        private var sources: [DispatchSourceSignal] = []
        private var watching = false
        /// The signal being handled, once one arrived.
        private var interrupted: Int32 = 0
        /// Signalled when the folders are gone.
        private let removed = DispatchSemaphore(value: 0)

        func add(_ path: String) -> Token {
            lock.lock(); defer { lock.unlock() }
            if !watching { watching = true; watch() }
            next += 1
            paths[next] = path
            return Token(id: next)
        }

        func take(_ token: Token) -> String? {
            lock.lock(); defer { lock.unlock() }
            return paths.removeValue(forKey: token.id)
        }

        /// The handler: once per process (a second signal while removing is ignored).
        func handle(_ sig: Int32) {
            lock.lock()
            guard interrupted == 0 else { lock.unlock(); return }
            interrupted = sig
            let all = Array(Set(paths.values))
            paths = [:]
            lock.unlock()
            if all.isEmpty { end(sig) }   // nothing to remove: as if never watched
            let name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal \(sig)"
            let line = "kestrel: interrupted (\(name)); removing the unfinished work: \(all.map { PathText.escapeControls($0) }.sorted().joined(separator: ", "))\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 { dup2(null, 2); close(null) }
            for path in all { InterruptCleanup.removeTree(path) }
            removed.signal()
            end(sig)
        }

        /// Runs at `exit` (atexit): after a signal, waits for the removal and ends by the signal.
        func atExit() {
            lock.lock()
            let sig = interrupted
            lock.unlock()
            guard sig != 0 else { return }
            _ = removed.wait(timeout: .now() + 60)
            removed.signal()
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

        /// Called once, under the lock.
        private func watch() {
            for sig in [SIGINT, SIGTERM] {
                // The signal goes to the source below instead of ending the process at once.
                let previous = signal(sig, SIG_IGN)
                if unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }   // inherited: stays ignored
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { Registry.shared.handle(sig) }
                source.resume()
                sources.append(source)
            }
            atexit { Registry.shared.atExit() }
        }
    }
}
