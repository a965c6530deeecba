import Foundation
import Hummingbird

/// The request deadline: a route wrapped in `Deadline.wrap` answers 503 `deadline_exceeded` when
/// it has not answered within `limits.requestTimeout` seconds. The route's work runs in its own
/// task and may go on (work already on the blocking pool cannot be interrupted; the task is
/// cancelled); the client gets its answer at the deadline.
///
/// (A middleware cannot do this: Hummingbird hands middlewares a non-escaping `next`, which must
/// finish before the middleware returns. So every route registers through `wrap`; the write
/// routes should too.)
public enum Deadline {
    /// `handler` bounded by `timeout` seconds (no bound when it is not a positive finite number).
    public static func wrap<Output: ResponseGenerator & Sendable>(
        timeout: Double,
        _ handler: @escaping @Sendable (Request, KestrelHTTP.Context) async throws -> Output
    ) -> @Sendable (Request, KestrelHTTP.Context) async throws -> Output {
        guard timeout.isFinite, timeout > 0 else { return handler }
        return { request, context in
            try await run(timeout: timeout) { try await handler(request, context) }
        }
    }

    /// `handler` bounded by the service's `limits.requestTimeout`.
    public static func wrap<Output: ResponseGenerator & Sendable>(
        _ service: SearchService,
        _ handler: @escaping @Sendable (Request, KestrelHTTP.Context) async throws -> Output
    ) -> @Sendable (Request, KestrelHTTP.Context) async throws -> Output {
        wrap(timeout: service.configuration.limits.requestTimeout, handler)
    }

    /// Runs `body` in a new task and returns its result, or throws 503 `deadline_exceeded` once
    /// `timeout` seconds have passed (cancelling the task; it may finish later unobserved).
    public static func run<T: Sendable>(timeout: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let once = ResumeOnce<T>()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            once.set(continuation)
            let work = Task { () -> Void in
                do { once.resume(.success(try await body())) } catch { once.resume(.failure(error)) }
            }
            Task {
                let nanoseconds = UInt64(min(timeout, 86_400) * 1e9)
                // Poll in short sleeps so the timer ends soon after the work does.
                var waited: UInt64 = 0
                while waited < nanoseconds, !once.isDone {
                    let step = min(nanoseconds - waited, 50_000_000)
                    try? await Task.sleep(nanoseconds: step)
                    waited += step
                }
                if once.resume(.failure(APIError(.serviceUnavailable, code: "deadline_exceeded",
                                                 "the request took longer than the limit of \(timeout) seconds; try a smaller request"))) {
                    work.cancel()
                }
            }
        }
    }
}

/// Resumes a continuation exactly once; later results are dropped.
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Error>?
    private var done = false

    var isDone: Bool { lock.lock(); defer { lock.unlock() }; return done }

    func set(_ c: CheckedContinuation<T, Error>) {
        lock.lock(); continuation = c; lock.unlock()
    }

    /// True when this call resumed the continuation.
    @discardableResult
    func resume(_ result: Result<T, Error>) -> Bool {
        lock.lock()
        guard !done, let c = continuation else { lock.unlock(); return false }
        done = true; continuation = nil
        lock.unlock()
        c.resume(with: result)
        return true
    }
}
