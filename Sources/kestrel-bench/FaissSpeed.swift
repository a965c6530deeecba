import Foundation
import KestrelIndex

/// `kestrel-bench faiss-speed [--count 100000] [--dim 512] [--queries 200] [--seed 1]
/// [--check-count 4000] [--threads N] [--prune-headroom H] [--write-vectors FILE] [--json]`
///
/// Kestrel's side of the FAISS speed comparison (scripts/bench-faiss-pypi.py runs PyPI's
/// faiss-cpu on the same vectors in the same run and prints the ratios):
///   - HNSW32,Flat build over `count` random unit vectors (Kestrel's plan: efConstruction 80),
///   - one HNSW query (Kestrel's default efSearch 128, k = 10), median over `queries` queries,
///   - one Flat query (k = 10), median, with FAISS's thread count and with 1 thread,
///   - recall@10 of the HNSW queries against Flat.
/// The build uses the shim's default prune headroom (`VectorIndex.hnswPruneHeadroom`, 0.2, as
/// FAISS >= 1.14.2 and so PyPI's faiss-cpu); `--prune-headroom H` sets another (0: FAISS 1.7.3's rule).
/// Then, over `check-count` vectors with 1 thread (a deterministic build) and prune headroom 0
/// (FAISS 1.7.3's rule, so both build the same graph), FAISS's own scalar distance code against
/// the shim's SIMD code in the same run: build and query times, whether the HNSW results are the
/// same ids, and the largest score difference.
/// `--threads N` sets FAISS's OpenMP thread count (default: OpenMP's, one per core).
/// `--write-vectors FILE` writes the base then the query vectors as raw little-endian float32.
func runFaissSpeedBench(args: [String]) {
    func option(_ name: String, _ fallback: String) -> String {
        if let i = args.firstIndex(of: "--\(name)"), i + 1 < args.count { return args[i + 1] }
        return fallback
    }
    let n = Int(option("count", "100000"))!
    let d = Int(option("dim", "512"))!
    let nq = Int(option("queries", "200"))!
    let checkCount = min(Int(option("check-count", "4000"))!, n)
    let json = args.contains("--json")
    let k = 10
    var rng = BenchRandom(seed: UInt64(option("seed", "1"))!)
    let threads = VectorIndex.setThreadCount(Int(option("threads", "0"))!)
    let level = DistanceCode.current
    let headroom = VectorIndex.setHNSWPruneHeadroom(Float(option("prune-headroom", String(VectorIndex.hnswPruneHeadroom)))!)
    func say(_ s: String) { if !json { print(s) } else { FileHandle.standardError.write((s + "\n").data(using: .utf8)!) } }
    say("faiss-speed: \(n) random unit vectors, d=\(d), \(nq) single queries, k=\(k), \(threads) threads, distance code \(level) (best \(DistanceCode.best))")

    let base = rng.unitVectors(n, d)
    let queries = rng.unitVectors(nq, d)
    if let path = args.firstIndex(of: "--write-vectors").flatMap({ $0 + 1 < args.count ? args[$0 + 1] : nil }) {
        var bytes = Data(capacity: (base.count + queries.count) * 4)
        base.withUnsafeBufferPointer { bytes.append(Data(buffer: $0)) }
        queries.withUnsafeBufferPointer { bytes.append(Data(buffer: $0)) }
        guard FileManager.default.createFile(atPath: path, contents: bytes) else {
            print("error: cannot write \(path)")
            exit(1)
        }
    }
    let ids = (0..<Int64(n)).map { $0 * 7 + 3 }
    func query(_ i: Int) -> [Float] { Array(queries[(i * d)..<((i + 1) * d)]) }

    /// Median milliseconds of one single-query search over all queries, and the hits.
    func singleQueries(_ index: VectorIndex, _ params: SearchParameters? = nil) throws -> (ms: Double, hits: [[(id: Int64, score: Float)]]) {
        var times = [Double]()
        var hits = [[(id: Int64, score: Float)]]()
        _ = try index.search(query(0), count: 1, k: k, parameters: params)  // warm-up
        for i in 0..<nq {
            let q = query(i)
            let t0 = DispatchTime.now().uptimeNanoseconds
            let r = try index.search(q, count: 1, k: k, parameters: params)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            hits.append(r[0])
        }
        return (times.sorted()[times.count / 2], hits)
    }
    func seconds(_ body: () throws -> Void) rethrows -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }

    do {
        // Flat.
        let flat = try VectorIndex.create(dimension: d, factory: "Flat")
        let flatAdd = try seconds { try flat.add(ids: ids, vectors: base) }
        let flatQ = try singleQueries(flat)
        VectorIndex.setThreadCount(1)
        let flatQ1 = try singleQueries(flat)
        VectorIndex.setThreadCount(threads)

        // HNSW at Kestrel's plan.
        let plan = try IndexPlanner.resolve(factory: "hnsw", count: n, dimension: d)
        let hnsw = try VectorIndex.create(dimension: d, plan: plan)
        let build = try seconds { try hnsw.add(ids: ids, vectors: base) }
        let hnswQ = try singleQueries(hnsw)
        let truth = flatQ.hits.map { Set($0.map(\.id)) }
        let hnswRecall = zip(hnswQ.hits, truth).reduce(0.0) { $0 + Double(Set($1.0.map(\.id)).intersection($1.1).count) } / Double(nq * k)
        let flatAgree = zip(flatQ.hits, flatQ1.hits).allSatisfy { $0.map(\.id) == $1.map(\.id) }

        say("")
        say("| what | Kestrel (\(level)) |")
        say("| --- | --- |")
        say("| Flat add \(n) x \(d) | \(fmt(flatAdd, 2)) s |")
        say("| Flat, one query (median of \(nq)), \(threads) threads | \(fmt(flatQ.ms, 3)) ms |")
        say("| Flat, one query, 1 thread | \(fmt(flatQ1.ms, 3)) ms |")
        say("| \(plan.factory) build, efConstruction \(plan.efConstruction ?? 0), prune headroom \(fmt(Double(headroom), 2)), \(threads) threads | \(fmt(build, 2)) s |")
        say("| HNSW, one query, efSearch \(plan.defaultParameters.efSearch ?? 0) (median) | \(fmt(hnswQ.ms, 3)) ms |")
        say("| HNSW recall@10 vs Flat | \(fmt(hnswRecall, 4)) |")

        // FAISS's own scalar code against the shim's, 1 thread, same vectors.
        var check: [String: Any] = [:]
        if checkCount > 0 {
            let sub = Array(base[0..<(checkCount * d)])
            let subIDs = Array(ids[0..<checkCount])
            VectorIndex.setThreadCount(1)
            VectorIndex.setHNSWPruneHeadroom(0)  // FAISS 1.7.3's rule: both sides build the same graph
            defer { VectorIndex.setHNSWPruneHeadroom(headroom) }
            func run(_ code: DistanceCode) throws -> (build: Double, flatMs: Double, hnswMs: Double, flat: [[(id: Int64, score: Float)]], hnsw: [[(id: Int64, score: Float)]]) {
                DistanceCode.set(code)
                defer { DistanceCode.set(level) }
                let f = try VectorIndex.create(dimension: d, factory: "Flat")
                try f.add(ids: subIDs, vectors: sub)
                let h = try VectorIndex.create(dimension: d, plan: plan)
                let b = try seconds { try h.add(ids: subIDs, vectors: sub) }
                let fq = try singleQueries(f), hq = try singleQueries(h)
                return (b, fq.ms, hq.ms, fq.hits, hq.hits)
            }
            let scalar = try run(.faiss)
            let simd = try run(level)
            VectorIndex.setThreadCount(threads)
            func same(_ a: [[(id: Int64, score: Float)]], _ b: [[(id: Int64, score: Float)]]) -> (rows: Int, maxDiff: Float) {
                var rows = 0
                var diff: Float = 0
                for (x, y) in zip(a, b) {
                    if x.map(\.id) == y.map(\.id) { rows += 1 }
                    for (p, q) in zip(x, y) { diff = max(diff, abs(p.score - q.score)) }
                }
                return (rows, diff)
            }
            let sf = same(scalar.flat, simd.flat), sh = same(scalar.hnsw, simd.hnsw)
            say("")
            say("Same run, \(checkCount) vectors, 1 thread, prune headroom 0: FAISS's own code (faiss) against the shim's (\(level))")
            say("| what | faiss | \(level) | ratio |")
            say("| --- | --- | --- | --- |")
            say("| HNSW build | \(fmt(scalar.build, 2)) s | \(fmt(simd.build, 2)) s | \(fmt(scalar.build / simd.build, 1))x |")
            say("| Flat, one query | \(fmt(scalar.flatMs, 3)) ms | \(fmt(simd.flatMs, 3)) ms | \(fmt(scalar.flatMs / simd.flatMs, 1))x |")
            say("| HNSW, one query | \(fmt(scalar.hnswMs, 3)) ms | \(fmt(simd.hnswMs, 3)) ms | \(fmt(scalar.hnswMs / simd.hnswMs, 1))x |")
            say("Flat: \(sf.rows)/\(nq) queries with the same ids in the same order, largest score difference \(sf.maxDiff)")
            say("HNSW: \(sh.rows)/\(nq) queries with the same ids in the same order, largest score difference \(sh.maxDiff)")
            check = [
                "check_count": checkCount, "check_faiss_hnsw_build_s": scalar.build, "check_simd_hnsw_build_s": simd.build,
                "check_faiss_flat_query_ms": scalar.flatMs, "check_simd_flat_query_ms": simd.flatMs,
                "check_faiss_hnsw_query_ms": scalar.hnswMs, "check_simd_hnsw_query_ms": simd.hnswMs,
                "check_flat_same_rows": sf.rows, "check_flat_max_score_diff": Double(sf.maxDiff),
                "check_hnsw_same_rows": sh.rows, "check_hnsw_max_score_diff": Double(sh.maxDiff),
            ]
        }
        if json {
            var out: [String: Any] = [
                "count": n, "dim": d, "queries": nq, "k": k, "threads": threads, "distance_code": level.description,
                "flat_add_s": flatAdd, "flat_query_ms": flatQ.ms, "flat_query_ms_1thread": flatQ1.ms,
                "flat_threads_agree": flatAgree, "factory": plan.factory, "ef_construction": plan.efConstruction ?? 0,
                "ef_search": plan.defaultParameters.efSearch ?? 0, "hnsw_build_s": build, "hnsw_prune_headroom": Double(headroom), "hnsw_query_ms": hnswQ.ms,
                "hnsw_recall_at_10": hnswRecall,
            ]
            out.merge(check) { a, _ in a }
            let data = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    } catch {
        print("error: \(error)")
        exit(1)
    }
}

private func fmt(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
