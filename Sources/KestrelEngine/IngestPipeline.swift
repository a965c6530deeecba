import Foundation

/// Prepares the items of a list ahead of the thread that consumes them, on `workers` threads,
/// and hands them back in list order (ingest: files read, hashed, decoded and preprocessed while
/// the encoder runs on the previous batch).
///
/// Bounded: a worker starts item i only while i < (items taken so far) + `lookahead`, so at most
/// `lookahead` finished items wait in memory. With `workers == 0` nothing runs ahead: `take`
/// prepares its items itself, on the calling thread (the sequential order of work).
/// The owner must call `stop()` before it lets go: it makes the workers finish their current item
/// and exit, and waits for them.
final class OrderedPrefetch<Item: Sendable, Output: Sendable>: @unchecked Sendable {
    private let items: [Item]
    private let work: @Sendable (Item) -> Output
    private let workers: Int
    private let lookahead: Int
    private let condition = NSCondition()
    private var ready: [Int: Output] = [:]
    private var next = 0  // the next item a worker starts
    private var taken = 0  // items below this were taken by the consumer
    private var cancelled = false
    private let group = DispatchGroup()

    /// `lookahead` is raised to at least 1.
    init(_ items: [Item], workers: Int, lookahead: Int, work: @escaping @Sendable (Item) -> Output) {
        self.items = items
        self.work = work
        self.workers = max(0, workers)
        self.lookahead = max(1, lookahead)
        for _ in 0..<self.workers {
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                runWorker()
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
    }

    private func runWorker() {
        while true {
            condition.lock()
            while !cancelled && next < items.count && next >= taken + lookahead { condition.wait() }
            if cancelled || next >= items.count { condition.unlock(); return }
            let i = next
            next += 1
            condition.unlock()
            let out = work(items[i])
            condition.lock()
            ready[i] = out
            condition.broadcast()
            condition.unlock()
        }
    }

    /// The outputs of `range` (the next items in order: `range.lowerBound` must be the number
    /// taken so far), waiting for the workers as needed. Returns them and the seconds spent waiting.
    func take(_ range: Range<Int>) -> (outputs: [Output], waited: Double) {
        if workers == 0 {
            taken = range.upperBound
            return (range.map { work(items[$0]) }, 0)
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        condition.lock()
        precondition(range.lowerBound == taken, "OrderedPrefetch: take \(range) out of order (taken \(taken))")
        // Everything in range may be started now: the window moves on before the wait.
        taken = range.lowerBound
        var out: [Output] = []
        out.reserveCapacity(range.count)
        for i in range {
            while ready[i] == nil {
                // Item i may not be started yet while the window still ends before it.
                condition.wait()
            }
            out.append(ready.removeValue(forKey: i)!)
            taken = i + 1
            condition.broadcast()
        }
        condition.unlock()
        return (out, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }

    /// Stops the workers after their current item and waits for them to exit.
    func stop() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
        group.wait()
    }
}
