import Foundation
import KestrelIndex

/// `kestrel-bench index-recall [--count 100000] [--dim 512] [--queries 1000] [--target 0.95]
/// [--types hnsw,ivf] [--seed 1]`
///
/// Builds Flat, then each approximate type at the planner's defaults over `count` random unit
/// vectors, tunes it to recall@10 >= target on stored-vector samples, and measures it on fresh
/// random queries against Flat in the same run. Random unit vectors are the hardest case for ANN:
/// no clusters, neighbours barely closer than everything else.
func runIndexRecallBench(args: [String]) {
    func option(_ name: String, _ fallback: String) -> String {
        if let i = args.firstIndex(of: "--\(name)"), i + 1 < args.count { return args[i + 1] }
        return fallback
    }
    let n = Int(option("count", "100000"))!
    let d = Int(option("dim", "512"))!
    let nq = Int(option("queries", "1000"))!
    let target = Double(option("target", "0.95"))!
    let types = option("types", "hnsw,ivf").split(separator: ",").map(String.init)
    let k = 10
    var rng = BenchRandom(seed: UInt64(option("seed", "1"))!)
    let threads = VectorIndex.setThreadCount(0)
    print("index-recall: \(n) random unit vectors, d=\(d), \(nq) fresh queries, k=\(k), target \(target), \(threads) threads")

    let base = rng.unitVectors(n, d)
    let queries = rng.unitVectors(nq, d)
    let ids = (0..<Int64(n)).map { $0 * 7 + 3 }  // sparse, non-positional ids
    let latencyQueries = min(nq, 200)

    func measure(_ index: VectorIndex) throws -> (hits: [[Int64]], batchQPS: Double, latencyMs: Double) {
        let t0 = Date()
        let hits = try index.search(queries, count: nq, k: k).map { $0.map(\.id) }
        let batch = Date().timeIntervalSince(t0)
        let t1 = Date()
        for i in 0..<latencyQueries {
            _ = try index.search(Array(queries[(i * d)..<((i + 1) * d)]), count: 1, k: k)
        }
        let single = Date().timeIntervalSince(t1) / Double(latencyQueries)
        return (hits, Double(nq) / batch, single * 1000)
    }

    do {
        let t0 = Date()
        let flat = try VectorIndex.create(dimension: d, factory: "Flat")
        try flat.add(ids: ids, vectors: base)
        let flatBuild = Date().timeIntervalSince(t0)
        let exact = try measure(flat)
        let truth = exact.hits.map(Set.init)
        func recall(_ hits: [[Int64]]) -> Double {
            zip(hits, truth).reduce(0.0) { $0 + Double(Set($1.0).intersection($1.1).count) } / Double(nq * k)
        }
        var rows = [String]()
        rows.append(row("Flat", "-", flatBuild, 0, "exact", 1.0, exact.batchQPS, exact.latencyMs, exact.latencyMs))

        for type in types {
            let plan = try IndexPlanner.resolve(factory: type, count: n, dimension: d)
            let t1 = Date()
            let index = try VectorIndex.create(dimension: d, plan: plan)
            try index.train(sampleFrom: base, count: n)
            try index.add(ids: ids, vectors: base)
            let build = Date().timeIntervalSince(t1)
            let defaults = index.searchParameters
            let atDefaults = recall(try measure(index).hits)
            let t2 = Date()
            let tuned = try index.tune(recallTarget: target, sampleQueries: 500, k: k, reference: (ids, base))
            let tuneTime = Date().timeIntervalSince(t2)
            let result = try measure(index)
            print("\(plan.factory): defaults \(describe(defaults)) recall@10 \(fmt(atDefaults)); tuned in \(fmt(tuneTime, 1)) s -> \(tuned)")
            rows.append(row(
                plan.factory, "\(tuned.parameter)=\(tuned.value)", build, tuneTime, fmt(tuned.recall),
                recall(result.hits), result.batchQPS, result.latencyMs, exact.latencyMs))
        }
        print("")
        print("| index | chosen | build s | tune s | sample recall@10 | recall@10 vs Flat (fresh queries) | batch QPS | 1-query ms | speed-up vs Flat |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        rows.forEach { print($0) }
    } catch {
        print("error: \(error)")
        exit(1)
    }
}

private func row(
    _ name: String, _ chosen: String, _ build: Double, _ tune: Double, _ sample: String, _ recall: Double,
    _ qps: Double, _ latency: Double, _ flatLatency: Double
) -> String {
    "| \(name) | \(chosen) | \(fmt(build, 1)) | \(fmt(tune, 1)) | \(sample) | \(fmt(recall)) | \(fmt(qps, 0)) | \(fmt(latency, 2)) | \(fmt(flatLatency / latency, 1))x |"
}

private func describe(_ p: SearchParameters) -> String {
    [p.nprobe.map { "nprobe=\($0)" }, p.efSearch.map { "efSearch=\($0)" }].compactMap { $0 }.joined(separator: " ")
}

private func fmt(_ x: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)f", x) }
