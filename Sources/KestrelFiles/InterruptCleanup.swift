import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Work folders that must not outlive the command that made them, even when it is stopped by
/// SIGINT (Ctrl-C) or SIGTERM: a `defer` does not run then. Register a folder while it exists;
/// `release` it when done. On the first registration the process starts watching both signals
/// (once; a signal the process inherited as ignored stays ignored); on a signal every registered
/// folder is removed and the process then ends as the signal would have ended it (status 128 + N).
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
    /// writing to the old path fail instead of adding entries while it is being emptied (which
    /// would leave it behind); then removed, retried a few times. Quiet: nothing to report then.
    static func removeTree(_ path: String) {
        let fm = FileManager.default
        guard fm.fileExists(atPath: path) else { return }
        let url = URL(fileURLWithPath: path)
        let aside = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).removing-\(getpid())")
        let target = rename(path, aside.path) == 0 ? aside.path : path
        for _ in 0..<5 {
            if (try? fm.removeItem(atPath: target)) != nil || !fm.fileExists(atPath: target) { return }
            usleep(20_000)
        }
    }

    private final class Registry: @unchecked Sendable {
        static let shared = Registry()
        private let lock = NSLock()
        private var paths: [Int: String] = [:]
        private var next = 0
        private var sources: [DispatchSourceSignal] = []
        private var watching = false

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

        func takeAll() -> [String] {
            lock.lock(); defer { lock.unlock() }
            defer { paths = [:] }
            return Array(paths.values)
        }

        /// Called once, under the lock.
        private func watch() {
            for sig in [SIGINT, SIGTERM] {
                // The signal goes to the source below instead of ending the process at once.
                let previous = signal(sig, SIG_IGN)
                if unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }   // inherited: stays ignored
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler {
                    for path in Registry.shared.takeAll() { InterruptCleanup.removeTree(path) }
                    signal(sig, SIG_DFL)
                    kill(getpid(), sig)          // delivered to a thread that does not block it: ends the process
                    usleep(500_000)
                    _exit(128 + sig)              // should the signal not have ended it
                }
                source.resume()
                sources.append(source)
            }
        }
    }
}
