import Foundation
import KestrelEngine
import KestrelIndex
import KestrelLoadSupport

/// `kestrel-bench serve-profile --index DIR [--queries 400] [--k 10]`: where a text search's CPU
/// goes, without HTTP: per query, the text tower on one text and on batches of 8 (what a
/// batcher would send), and the index search on one query at the tuned efSearch / nprobe and at
/// lower ones, each with FAISS on all threads and on one thread, with recall@k against an exact
/// scan on the same texts. CPU milliseconds of this process per query (user + system), and wall.
func runServeProfile(args: [String]) throws {
    func value(_ name: String) -> String? { args.firstIndex(of: name).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil } }
    guard let dir = value("--index"), let n = Int(value("--queries") ?? "400"), n > 0, let k = Int(value("--k") ?? "10"), k > 0 else {
        throw BenchUsage("usage: kestrel-bench serve-profile --index DIR [--queries 400] [--k 10]")
    }
    let machine = Machine.describe()
    print("machine: \(machine.cpu), \(machine.cores) cores; load average \(Machine.loadAverage())")
    let catalog = try Catalog.open(URL(fileURLWithPath: dir))
    guard let modelPath = catalog.modelPath else { throw BenchUsage("\(dir) does not record its model") }
    let embedder = try Embedder(modelDirectory: URL(fileURLWithPath: modelPath), precision: catalog.precision)
    let texts = SyntheticQueries.queries(count: n, seed: 99)
    func cpu() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }
    func measure(_ label: String, _ body: () throws -> Void) rethrows {
        let c0 = cpu(), t0 = Date()
        try body()
        print(String(format: "  %-58@ %6.3f CPU-ms, %6.3f wall-ms per query", label as NSString,
                     1000 * (cpu() - c0) / Double(n), 1000 * Date().timeIntervalSince(t0) / Double(n)))
    }
    _ = try embedder.embedTexts(Array(texts.prefix(8)))  // warm-up
    var vectors = [Float]()
    print("text tower (\(embedder.model.precision.rawValue)):")
    try measure("one text per call") { for t in texts { vectors += try embedder.embedTexts([t]).data } }
    try measure("8 texts per call") { for s in stride(from: 0, to: n, by: 8) { _ = try embedder.embedTexts(Array(texts[s..<min(s + 8, n)])) } }

    let index = catalog.index
    let d = catalog.store.identity.dimension
    let (ids, values) = try catalog.store.allVectors()
    let flat = try VectorIndex.create(dimension: d, factory: "Flat")
    try flat.add(ids: ids.map { Int64($0) }, vectors: values)
    let exact = try flat.search(vectors, count: n, k: k).map { Set($0.map(\.id)) }
    let tuned = index.searchParameters
    print("index \(index.factory), \(ids.count) items, tuned \(tuned.efSearch.map { "efSearch \($0)" } ?? tuned.nprobe.map { "nprobe \($0)" } ?? "exact"):")
    var settings: [SearchParameters?] = [nil]
    if let ef = tuned.efSearch { settings += [64, 128, 256].filter { $0 < ef }.map { SearchParameters(efSearch: $0) } }
    if let np = tuned.nprobe { settings += [8, 16, 32].filter { $0 < np }.map { SearchParameters(nprobe: $0) } }
    let allThreads = VectorIndex.setThreadCount(0)
    for threads in [allThreads, 1] {
        VectorIndex.setThreadCount(threads)
        for p in settings {
            var hits = 0
            let name = p.map { [$0.efSearch.map { "efSearch \($0)" }, $0.nprobe.map { "nprobe \($0)" }].compactMap { $0 }.joined() } ?? "tuned"
            try measure("one query per call, \(name), \(threads) FAISS thread(s)") {
                for q in 0..<n {
                    let r = try index.search(Array(vectors[(q * d)..<((q + 1) * d)]), count: 1, k: k, parameters: p)
                    hits += Set(r[0].map(\.id)).intersection(exact[q]).count
                }
            }
            print(String(format: "    recall@%d against exact: %.4f", k, Double(hits) / Double(n * k)))
        }
    }
    VectorIndex.setThreadCount(allThreads)
}
