import Foundation
import KestrelEngine

/// `kestrel-bench store-open [--count N] [--dim D] [--dir DIR]`: what the page walk every store
/// open runs costs. Makes (or reuses, in DIR) a store of N random D-dimensional f32 vectors with
/// one path each, then times a read-only open (environment, walk, header) and the walk alone,
/// each the median of 9 runs with the file in the page cache.
func runStoreOpenBench(args: [String]) throws {
    func value(_ name: String) -> String? { args.firstIndex(of: name).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil } }
    let count = Int(value("--count") ?? "") ?? 20000
    let dim = Int(value("--dim") ?? "") ?? 512
    let dir = URL(fileURLWithPath: value("--dir") ?? NSTemporaryDirectory() + "kestrel-store-open-\(count)x\(dim)")
    if !FileManager.default.fileExists(atPath: dir.appendingPathComponent("data.mdb").path) {
        let store = try Store.create(at: dir, identity: ModelIdentity(name: "bench", fingerprint: "bench", dimension: dim))
        var random = BenchRandom(seed: 1)
        let batch = 1000
        for start in stride(from: 0, to: count, by: batch) {
            let n = min(batch, count - start)
            let vectors = random.unitVectors(n, dim)
            let items = (0..<n).map { i -> NewItem in
                let id = start + i
                let hash = String(repeating: "0", count: 48) + String(format: "%016x", id)
                return NewItem(path: FilePathBytes("/photos/\(id / 1000)/IMG_\(id).jpg"), contentHash: hash, fileSize: 1000,
                               mtimeNanoseconds: 0, width: 640, height: 480,
                               embedding: Array(vectors[(i * dim)..<((i + 1) * dim)]))
            }
            _ = try store.add(items)
        }
        store.close()
    }
    let bytes = (try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("data.mdb").path)[.size] as? Int) ?? 0
    func median(_ body: () throws -> Void) rethrows -> Double {
        var times: [Double] = []
        for _ in 0..<9 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        return times.sorted()[4]
    }
    _ = try Store.open(at: dir, readOnly: true)  // warm the page cache
    let open = try median { let s = try Store.open(at: dir, readOnly: true); s.close() }
    let store = try Store.open(at: dir, readOnly: true)
    let walk = try median { try store.verifyStructure() }
    print(String(format: "store of %d items x %d-d, data.mdb %.1f MB: read-only open %.1f ms, of which page walk %.1f ms",
                 try store.count, dim, Double(bytes) / 1e6, open, walk))
}
