import Foundation
import KestrelFiles
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive advisory lock on an index folder, so two writers never interleave. It is a
/// flock(2) on the folder itself (an open descriptor of the directory), not on a file in it:
/// a lock file can be deleted while a writer holds it, letting a second writer lock a new file
/// of the same name; the folder cannot be replaced while it holds the store a writer has open.
/// Released when the process ends, however it ends.
final class WriterLock: @unchecked Sendable {
    private let fd: Int32

    init(_ dir: FilePathBytes) throws {
        fd = dir.withCString { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) } ?? -1
        guard fd >= 0 else { throw EngineError.lockFailed(dir.description, String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let err = errno
            close(fd)
            if err == EWOULDBLOCK {
                throw EngineError.lockFailed(dir.description, "another kestrel process is writing to this index; wait for it to finish")
            }
            throw EngineError.lockFailed(dir.description, String(cString: strerror(err)))
        }
    }

    deinit { flock(fd, LOCK_UN); close(fd) }
}
