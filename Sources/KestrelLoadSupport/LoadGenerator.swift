import Foundation
import KestrelFiles

/// What a closed-loop load run does: `clients` threads, each with its own kept-alive connection,
/// send `POST path` with `{"text": QUERY, "k": k}` one after another (the next as soon as the
/// previous answer is read) for `warmup + seconds`; requests started during the warm-up are not
/// counted. Client `i` takes queries `i, i + clients, i + 2·clients...`, so together the clients
/// walk the list in order and a text repeats only after the whole list was sent.
public struct LoadOptions: Sendable {
    public var host = "127.0.0.1"
    public var port: Int
    public var path = "/v1/search"
    public var clients = 8
    /// Measured seconds (after the warm-up).
    public var seconds = 60.0
    /// Seconds of load before measuring starts.
    public var warmup = 0.0
    public var k = 10
    /// The texts to send (at least one).
    public var queries: [String]
    /// Seconds a request may take before it counts as a connection error.
    public var timeout = 30.0
    public init(port: Int, queries: [String]) { self.port = port; self.queries = queries }
}

/// The figures of a run. Latencies are wall-clock milliseconds from writing a request to having
/// read its whole reply, every measured request's (errors included), sorted.
public struct LoadReport: Sendable {
    public var clients: Int
    /// Seconds from the end of the warm-up to the last measured reply.
    public var seconds: Double
    public var requests: Int
    /// Errors by kind: `HTTP 503`, `invalid reply`, `connection`... (empty: none).
    public var errors: [String: Int]
    /// The first few errors in full (kind, query and what was wrong), for the report.
    public var errorSamples: [String]
    public var latenciesMs: [Double]
    /// Distinct texts among the measured requests.
    public var distinctQueries: Int
    public var warmupRequests: Int
    /// TCP connections opened (the clients, plus any reconnection).
    public var connections: Int

    public var errorCount: Int { errors.values.reduce(0, +) }
    public var throughput: Double { seconds > 0 ? Double(requests) / seconds : 0 }
    /// The exact `p`-quantile (nearest rank) of every measured latency, ms; 0 without requests.
    public func percentile(_ p: Double) -> Double {
        guard !latenciesMs.isEmpty else { return 0 }
        let rank = Int((p * Double(latenciesMs.count)).rounded(.up))
        return latenciesMs[min(max(rank, 1), latenciesMs.count) - 1]
    }
    public var maxMs: Double { latenciesMs.last ?? 0 }
    public var meanMs: Double { latenciesMs.isEmpty ? 0 : latenciesMs.reduce(0, +) / Double(latenciesMs.count) }

    /// A few lines for a terminal.
    public var summary: String {
        var lines = [
            String(format: "requests %d in %.1f s (%d clients, %d connections, %d distinct texts; %d warm-up requests not counted)",
                   requests, seconds, clients, connections, distinctQueries, warmupRequests),
            String(format: "throughput %.1f req/s", throughput),
            String(format: "latency ms: p50 %.2f  p95 %.2f  p99 %.2f  max %.2f  mean %.2f",
                   percentile(0.5), percentile(0.95), percentile(0.99), maxMs, meanMs),
            "errors \(errorCount)" + (errors.isEmpty ? "" : ": " + errors.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }.joined(separator: ", ")),
        ]
        lines += errorSamples.map { "  \($0)" }
        return lines.joined(separator: "\n")
    }
}

public enum LoadGenerator {
    /// Runs the load on `options.clients` threads and waits for them all (blocks the caller for
    /// `warmup + seconds` plus the last replies). `check` judges a 200 reply: nil when good, else
    /// what is wrong (counted as an `invalid reply` error); by default `SearchReplyCheck.problem`.
    public static func run(_ options: LoadOptions,
                           check: @escaping @Sendable (HTTPReply, Int) -> String? = SearchReplyCheck.problem) -> LoadReport {
        precondition(!options.queries.isEmpty && options.clients > 0, "LoadOptions needs queries and clients")
        let bodies = options.queries.map { #"{"text":"# + jsonString($0) + #","k":\#(options.k)}"# }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let measureFrom = t0 + UInt64(options.warmup * 1e9)
        let stopAt = measureFrom + UInt64(options.seconds * 1e9)
        let results = ClientResults()
        let group = DispatchGroup()
        for c in 0..<options.clients {
            group.enter()
            let thread = Thread {
                results.append(runClient(c, options: options, bodies: bodies, measureFrom: measureFrom, stopAt: stopAt, check: check))
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        let all = results.all
        var errors: [String: Int] = [:]
        for r in all { for (k, v) in r.errors { errors[k, default: 0] += v } }
        let lastReply = all.map(\.lastReply).max() ?? measureFrom
        return LoadReport(
            clients: options.clients,
            seconds: Double(max(lastReply, measureFrom) - measureFrom) / 1e9,
            requests: all.reduce(0) { $0 + $1.latencies.count },
            errors: errors,
            errorSamples: Array(all.flatMap(\.samples).prefix(5)),
            latenciesMs: all.flatMap(\.latencies).sorted(),
            distinctQueries: all.reduce(into: Set<Int>()) { $0.formUnion($1.queries) }.count,
            warmupRequests: all.reduce(0) { $0 + $1.warmup },
            connections: all.reduce(0) { $0 + $1.connections })
    }

    struct ClientResult: Sendable {
        var latencies: [Double] = []
        var errors: [String: Int] = [:]
        var samples: [String] = []
        var queries = Set<Int>()
        var warmup = 0
        var lastReply: UInt64 = 0
        var connections = 0
    }

    final class ClientResults: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [ClientResult] = []
        func append(_ r: ClientResult) { lock.lock(); items.append(r); lock.unlock() }
        var all: [ClientResult] { lock.lock(); defer { lock.unlock() }; return items }
    }

    static func runClient(_ c: Int, options: LoadOptions, bodies: [String], measureFrom: UInt64, stopAt: UInt64,
                          check: @Sendable (HTTPReply, Int) -> String?) -> ClientResult {
        let client = LoopbackHTTPClient(host: options.host, port: options.port, timeout: options.timeout)
        var out = ClientResult()
        var q = c % bodies.count
        while true {
            let start = DispatchTime.now().uptimeNanoseconds
            if start >= stopAt { break }
            let measured = start >= measureFrom
            var problem: (kind: String, detail: String)?
            do {
                let reply = try client.postJSON(options.path, bodies[q])
                if reply.status != 200 {
                    problem = ("HTTP \(reply.status)", String(reply.text.prefix(200)))
                } else if let p = check(reply, options.k) {
                    problem = ("invalid reply", p)
                }
            } catch {
                problem = ("connection", "\(error)")
            }
            let end = DispatchTime.now().uptimeNanoseconds
            if measured {
                out.latencies.append(Double(end - start) / 1e6)
                out.queries.insert(q)
                out.lastReply = end
                if let problem {
                    out.errors[problem.kind, default: 0] += 1
                    if out.samples.count < 3 { out.samples.append("\(problem.kind) for \(options.queries[q].debugDescription): \(problem.detail)") }
                }
            } else {
                out.warmup += 1
            }
            if problem?.kind == "connection" { usleep(10_000) }  // no hot loop against a server that is gone
            q = (q + options.clients) % bodies.count
        }
        out.connections = client.connections
        return out
    }
}

/// Checks a `POST /v1/search` answer: a JSON object whose `results` is an array of at most `k`
/// objects, each with a whole-number `id` and a finite number `score`, scores not increasing
/// (best first).
public enum SearchReplyCheck {
    /// nil when the reply is a well-formed search answer, else what is wrong with it.
    public static func problem(_ reply: HTTPReply, k: Int) -> String? {
        switch parse(reply.body, k: k) {
        case .success: return nil
        case .failure(let e): return e.description
        }
    }

    /// The results' ids and scores, best first, or what is wrong.
    public static func parse(_ body: [UInt8], k: Int) -> Result<[(id: UInt64, score: Double)], ReplyProblem> {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            return .failure(ReplyProblem("the body is not a JSON object: \(String(decoding: body.prefix(120), as: UTF8.self))"))
        }
        guard let results = object["results"] as? [Any] else { return .failure(ReplyProblem("no \"results\" array")) }
        guard results.count <= k else { return .failure(ReplyProblem("\(results.count) results for k=\(k)")) }
        var out: [(id: UInt64, score: Double)] = []
        for (i, r) in results.enumerated() {
            guard let hit = r as? [String: Any], let idNumber = hit["id"] as? NSNumber, let scoreNumber = hit["score"] as? NSNumber else {
                return .failure(ReplyProblem("result \(i) lacks a numeric \"id\" or \"score\""))
            }
            let id = idNumber.uint64Value, score = scoreNumber.doubleValue
            guard score.isFinite, idNumber.doubleValue == Double(id) else { return .failure(ReplyProblem("result \(i): id \(idNumber) score \(scoreNumber)")) }
            if let previous = out.last, score > previous.score {
                return .failure(ReplyProblem("result \(i) scores \(score), above result \(i - 1)'s \(previous.score): not best first"))
            }
            out.append((id, score))
        }
        return .success(out)
    }

    public struct ReplyProblem: Error, CustomStringConvertible {
        public let description: String
        public init(_ d: String) { description = d }
    }
}

/// `text` as a quoted JSON string literal (KestrelFiles' one escaping).
public func jsonString(_ text: String) -> String {
    var out = ""
    JSONText.appendQuoted(text, to: &out)
    return out
}
