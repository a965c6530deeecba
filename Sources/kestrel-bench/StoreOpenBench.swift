import Foundation
#if canImport(Glibc)
import Glibc
#endif
import KestrelEngine

/// `kestrel-bench store-open [--count N] [--dim D] [--dir DIR] [--cold]`: what the page walk every
/// store open runs costs. Makes (or reuses, in DIR) a store of N random D-dimensional f32 vectors
/// with one path each, then times a read-only open (environment, walk, header) and the walk
/// alone, each the median of 11 runs: with data.mdb in the page cache, or with `--cold`, evicted
/// from it (posix_fadvise DONTNEED) before each run.
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
    let cold = args.contains("--cold")
    func evict() {
        let fd = Glibc.open(dir.appendingPathComponent("data.mdb").path, O_RDONLY)
        if fd >= 0 { _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED)); Glibc.close(fd) }
    }
    func median(_ body: () throws -> Void) rethrows -> Double {
        var times: [Double] = []
        for _ in 0..<11 {
            if cold { evict() }
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        return times.sorted()[5]
    }
    _ = try Store.open(at: dir, readOnly: true)  // warm the page cache
    let open = try median { let s = try Store.open(at: dir, readOnly: true); s.close() }
    let store = try Store.open(at: dir, readOnly: true)
    let walk = try median { try store.verifyStructure() }
    print(String(format: "store of %d items x %d-d, data.mdb %.1f MB, %@ cache: read-only open (walk included) %.1f ms; the page walk alone %.1f ms",
                 try store.count, dim, Double(bytes) / 1e6, cold ? "cold" : "warm", open, walk))
}
