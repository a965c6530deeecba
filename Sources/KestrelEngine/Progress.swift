import Foundation

/// Formats progress of long work: a redrawn bar with rate and ETA for a terminal, plain log
/// lines (at most one every few seconds) otherwise. It writes only through `write`, which the
/// caller supplies (the CLI passes a writer to stderr); the library never prints by itself.
public final class ProgressReporter: @unchecked Sendable {
    private let label: String
    private var total: Int
    private let isTerminal: Bool
    private let write: @Sendable (String) -> Void
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var lastDone = -1
    private let lock = NSLock()

    /// `isTerminal`: redraw one line with `\r` (true) or write a line every few seconds (false).
    public init(label: String, total: Int, isTerminal: Bool, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.total = total
        self.isTerminal = isTerminal
        self.write = write
    }

    /// Call with the number of items done so far (and the total, when it became known later).
    public func update(_ done: Int, total newTotal: Int? = nil, force: Bool = false) {
        lock.lock(); defer { lock.unlock() }
        if let newTotal { total = newTotal }
        let now = Date()
        let interval = isTerminal ? 0.1 : 5.0
        guard force || now.timeIntervalSince(lastDraw) >= interval else { return }
        if !isTerminal && done == lastDone { return }
        lastDraw = now
        lastDone = done
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        let eta = done >= total ? "done" : (rate > 0 ? "ETA \(Self.clock(remaining))" : "ETA --")
        if isTerminal {
            let width = 30
            let filled = total > 0 ? min(width, width * done / total) : width
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let line = String(format: "\r%@ [%@] %d/%d  %.1f/s  %@ ", label, bar, done, total, rate, eta)
            write(line)
        } else {
            let line = String(format: "%@: %d/%d (%.1f/s, %@)\n", label, done, total, rate, eta)
            write(line)
        }
    }

    /// Ends the bar's line on a terminal.
    public func finish(_ done: Int) {
        update(done, force: true)
        if isTerminal { write("\n") }
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// Wall time spent per stage of a pipeline (decode, preprocess, encode, store, index).
public struct StageTimes: Sendable {
    public private(set) var seconds: [String: Double] = [:]
    public private(set) var order: [String] = []

    public init() {}

    public mutating func add(_ stage: String, _ duration: Double) {
        if seconds[stage] == nil { order.append(stage) }
        seconds[stage, default: 0] += duration
    }

    /// Runs `body`, adding its wall time to `stage`.
    public mutating func time<T>(_ stage: String, _ body: () throws -> T) rethrows -> T {
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer { add(stage, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) }
        return try body()
    }

    public var total: Double { seconds.values.reduce(0, +) }

    /// "decode 1.2s (10%), preprocess ..."
    public var summary: String {
        let t = max(total, 1e-9)
        return order.map { String(format: "%@ %.2fs (%.0f%%)", $0, seconds[$0]!, 100 * seconds[$0]! / t) }
            .joined(separator: ", ")
    }
}
