import Foundation
import Hummingbird
import NIOCore

/// The request deadline: a route wrapped in `Deadline.wrap` answers 503 `deadline_exceeded` when
/// it has not answered within `limits.requestTimeout` seconds.
///
/// Two phases share the one deadline:
/// 1. The request body is read (bounded by the route's body limit: 413 past it, and rejected from
///    `Content-Length` before reading when that header says it is too large) in a structured task
///    group racing a timer. At the deadline the reading child is cancelled and awaited before the
///    503 is thrown, so when Hummingbird then drains the rest of the body no other task is still
///    reading it (NIO's request-part sequence takes one consumer at a time). A body cut off this
///    way ends the connection.
/// 2. The handler runs on a request whose body is the bytes already read, in its own task raced
///    by a sleeping timer task (cancelled as soon as the handler finishes). At the deadline the
///    handler's task is cancelled first, then the 503 is answered; work already on the blocking
///    pool finishes its current step (`SearchService.offload` and long loops check for
///    cancellation between steps), unobserved.
///
/// (A middleware cannot do this: Hummingbird hands middlewares a non-escaping `next`, which must
/// finish before the middleware returns. So every route registers through `wrap`.)
public enum Deadline {
    /// Sleeps `seconds` (throws when cancelled). Injectable so tests decide when a deadline passes.
    public typealias Sleep = @Sendable (Double) async throws -> Void

    /// `Task.sleep` (at most a day).
    public static let taskSleep: Sleep = { seconds in
        try await Task.sleep(nanoseconds: UInt64(min(max(0, seconds), 86_400) * 1e9))
    }

    /// Which body limit a route reads its body under.
    public enum BodyKind: Sendable {
        /// An upload: `ServerLimits.maxBodyBytes` (`body_bytes`).
        case upload
        /// A JSON body: `ServerLimits.maxJSONBodyBytes` (`json_body_bytes`).
        case json

        /// The limit's name and value.
        public func limit(_ limits: ServerLimits) -> (name: String, value: Int) {
            switch self {
            case .upload: return ("body_bytes", limits.maxBodyBytes)
            case .json: return ("json_body_bytes", limits.maxJSONBodyBytes)
            }
        }
    }

    /// The 503 answered at the deadline.
    public static func exceeded(_ timeout: Double) -> APIError {
        APIError(.serviceUnavailable, code: "deadline_exceeded",
                 "the request took longer than the limit of \(timeout) seconds; try a smaller request")
    }

    /// A check run before the body is read (an API key): a response to answer instead, or nil to
    /// go on; what it throws is the answer.
    public typealias Precheck<Output> = @Sendable (Request, KestrelHTTP.Context) throws -> Output?

    /// `handler` bounded by `timeout` seconds (no bound when it is not a positive finite number),
    /// its body read first under `bodyLimit` (name, bytes), after `precheck`.
    public static func wrap<Output: ResponseGenerator & Sendable>(
        timeout: Double, bodyLimit: (name: String, value: Int) = ("body_bytes", ServerLimits().maxBodyBytes),
        sleep: @escaping Sleep = taskSleep, precheck: Precheck<Output>? = nil,
        _ handler: @escaping @Sendable (Request, KestrelHTTP.Context) async throws -> Output
    ) -> @Sendable (Request, KestrelHTTP.Context) async throws -> Output {
        let bounded = timeout.isFinite && timeout > 0
        return { request, context in
            if let precheck, let answer = try precheck(request, context) { return answer }
            let clock = ContinuousClock()
            let start = clock.now
            var request = request
            if hasBody(request) {
                let buffer = try await readBody(request, limit: bodyLimit, timeout: bounded ? timeout : nil, sleep: sleep)
                request.body = RequestBody(buffer: buffer)
            }
            guard bounded else { return try await handler(request, context) }
            let spent = clock.now - start
            let left = timeout - (Double(spent.components.seconds) + Double(spent.components.attoseconds) / 1e18)
            guard left > 0 else { throw exceeded(timeout) }
            let ready = request
            return try await run(timeout: left, reported: timeout, sleep: sleep) { try await handler(ready, context) }
        }
    }

    /// `handler` bounded by the service's `limits.requestTimeout`, its body read under the limit
    /// of `body` (uploads: `body_bytes`; JSON: `json_body_bytes`) once `precheck` (if any) let
    /// the request through.
    public static func wrap<Output: ResponseGenerator & Sendable>(
        _ service: SearchService, body: BodyKind = .upload, precheck: Precheck<Output>? = nil,
        _ handler: @escaping @Sendable (Request, KestrelHTTP.Context) async throws -> Output
    ) -> @Sendable (Request, KestrelHTTP.Context) async throws -> Output {
        let limits = service.configuration.limits
        return wrap(timeout: limits.requestTimeout, bodyLimit: body.limit(limits), precheck: precheck, handler)
    }

    /// Whether the request may carry a body (GET and HEAD are not read).
    static func hasBody(_ request: Request) -> Bool {
        request.method != .get && request.method != .head
    }

    /// The whole body, at most `limit.value` bytes (413 naming `limit.name` past it, before
    /// reading when `Content-Length` says so), raced against `timeout` seconds in a structured
    /// group: at the deadline the reader is cancelled and awaited, then 503 is thrown.
    public static func readBody(_ request: Request, limit: (name: String, value: Int), timeout: Double?,
                                sleep: @escaping Sleep = taskSleep) async throws -> ByteBuffer {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit.value {
            throw APIError.bodyTooLarge(limit.name, limit.value)
        }
        let read: @Sendable () async throws -> ByteBuffer = {
            do {
                return try await request.body.collect(upTo: limit.value)
            } catch is NIOTooManyBytesError {
                throw APIError.bodyTooLarge(limit.name, limit.value)
            }
        }
        guard let timeout else { return try await read() }
        return try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await read() }
            group.addTask { try await sleep(timeout); return nil }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let buffer = first else { throw exceeded(timeout) }
            return buffer
        }
    }

    /// Runs `body` in a new task and returns its result, or throws 503 `deadline_exceeded` once
    /// `sleep(timeout)` returns (cancelling the task first; it may finish later unobserved). The
    /// timer is a sleeping task cancelled as soon as `body` finishes. `reported`: the timeout the
    /// message names (default `timeout`). Cancelling the caller cancels `body`.
    public static func run<T: Sendable>(timeout: Double, reported: Double? = nil, sleep: @escaping Sleep = taskSleep,
                                        _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let race = Race<T>()
        let failure = exceeded(reported ?? timeout)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
                race.set(continuation)
                let work = Task { () -> Void in
                    do { race.finish(.success(try await body())) } catch { race.finish(.failure(error)) }
                }
                let timer = Task { () -> Void in
                    do { try await sleep(timeout) } catch { return }   // cancelled: the work ended first
                    race.expire(failure)
                }
                race.start(work: work, timer: timer)
            }
        } onCancel: {
            race.cancelWork()
        }
    }
}

/// The work task and the timer task of one `Deadline.run`: the first to end resumes the
/// continuation (exactly once) and stops the other.
private final class Race<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Error>?
    private var done = false
    private var work: Task<Void, Never>?
    private var timer: Task<Void, Never>?
    private var cancelled = false

    func set(_ c: CheckedContinuation<T, Error>) {
        lock.lock(); continuation = c; lock.unlock()
    }

    func start(work: Task<Void, Never>, timer: Task<Void, Never>) {
        lock.lock()
        self.work = work; self.timer = timer
        let finished = done, cancel = cancelled
        lock.unlock()
        // Ended before both tasks were known: stop whichever is still running.
        if finished { timer.cancel(); work.cancel() }
        if cancel { work.cancel() }
    }

    /// The work ended: answer its result, stop the timer.
    func finish(_ result: Result<T, Error>) {
        lock.lock()
        guard !done, let c = continuation else { lock.unlock(); return }
        done = true; continuation = nil
        let t = timer
        lock.unlock()
        t?.cancel()
        c.resume(with: result)
    }

    /// The deadline passed: cancel the work first, then answer `error`.
    func expire(_ error: Error) {
        lock.lock()
        guard !done, let c = continuation else { lock.unlock(); return }
        done = true; continuation = nil
        let w = work
        lock.unlock()
        w?.cancel()
        c.resume(throwing: error)
    }

    func cancelWork() {
        lock.lock()
        cancelled = true
        let w = work
        lock.unlock()
        w?.cancel()
    }
}
