import Foundation

/// Bytes of memory that concurrent work may hold at once, shared by every thread that decodes
/// images with one `Embedder` (an ingest's workers, a service's requests).
///
/// A reservation waits until the bytes in use plus its own fit the budget. One larger than the
/// whole budget waits until nothing else is reserved and then runs alone (it counts as the whole
/// budget while it runs). Reservations are admitted in the order they asked, so a large one is
/// not starved by a stream of small ones.
public final class MemoryBudget: @unchecked Sendable {
    /// The budget, in bytes (at least 1).
    public let capacity: Int
    private let condition = NSCondition()
    private var inUse = 0
    private var nextTicket = 0
    private var nowServing = 0

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The default budget for image decoding, in bytes: an eighth of the machine's memory, or a
    /// quarter of the address-space limit (`ulimit -v`) when that is smaller, kept within
    /// 256 MiB ... 8 GiB. One 13000 x 13000 RGB PNG needs about 1 GB to decode and preprocess.
    public static var defaultDecodeCapacity: Int {
        var bytes = Double(ProcessInfo.processInfo.physicalMemory) / 8
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max /* RLIM_INFINITY */ {
            bytes = min(bytes, Double(limit.rlim_cur) / 4)
        }
        return Int(min(max(bytes, Double(256 << 20)), Double(8 << 30)))
    }

    /// Runs `body` while holding `bytes` of the budget (clamped to 1 ... the whole budget), waiting
    /// first until they fit. The bytes are given back when `body` returns or throws.
    public func withReservation<T>(_ bytes: Int, _ body: () throws -> T) rethrows -> T {
        let amount = min(max(bytes, 1), capacity)  // at least 1: nothing runs beside an oversized one
        condition.lock()
        let ticket = nextTicket
        nextTicket += 1
        while ticket != nowServing || inUse + amount > capacity { condition.wait() }
        inUse += amount
        nowServing += 1
        condition.broadcast()  // the next in line may fit too
        condition.unlock()
        defer {
            condition.lock()
            inUse -= amount
            condition.broadcast()
            condition.unlock()
        }
        return try body()
    }

    /// Bytes reserved right now.
    public var bytesInUse: Int {
        condition.lock(); defer { condition.unlock() }
        return inUse
    }
}
