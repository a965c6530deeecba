import Foundation
import KestrelEngine
import KestrelLoadSupport

/// `kestrel-bench synth-index --out DIR [--items 100000] [--model DIR] [--index-type auto]
/// [--seed 1] [--centres 300] [--noise 0.6] [--noise-rank 16] [--batch 5000]`
///
/// A real Kestrel catalog (store + index, made for the model's identity, recording its path) of
/// `items` items whose vectors are synthetic but shaped like a collection text queries are run
/// against: `centres` captions in the default model's world (SyntheticQueries: "a small striped
/// red dress", "a blue star on a white background"...) are embedded by the model's text tower;
/// item n is the unit vector along `c_a + β·c_b + noise·(0.9·L_a + 0.3·g/√d)` for two centres
/// a, b drawn at random, β uniform in [0, 0.5], L_a a standard normal combination of `noise-rank`
/// random unit directions fixed per centre (divided by √rank) and g a standard normal vector:
/// each cluster varies mostly along a few directions of its own, as real embeddings do (they
/// lie near a low-dimensional surface), with a little isotropic noise (noise 0.6: cosine about
/// 0.8 to the main centre). `--noise-rank 0`: isotropic noise only (`noise·g/√d`), the hardest
/// case for an approximate index. Paths `/synthetic/000123.png`, metadata `{"cluster": a}`, 256x256, all
/// fixed by the seed. Items are stored in batches (store, then index, as ingest does); then the
/// index is rebuilt as `--index-type` asks (auto: the planner's choice, HNSW32,Flat at 100,000)
/// and saved. Progress on stderr; the build figures on stdout.
func runSynthIndex(args: [String]) throws {
    func value(_ name: String) -> String? { args.firstIndex(of: name).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil } }
    let usage = "usage: kestrel-bench synth-index --out DIR [--items 100000] [--model DIR] [--index-type auto|Flat|HNSW32,Flat|...] [--seed 1] [--centres 300] [--noise 0.6] [--noise-rank 16] [--batch 5000]"
    guard let out = value("--out") else { throw BenchUsage(usage) }
    guard let items = Int(value("--items") ?? "100000"), items > 0,
          let seed = UInt64(value("--seed") ?? "1"),
          let centreCount = Int(value("--centres") ?? "300"), centreCount > 0,
          let noise = Double(value("--noise") ?? "0.6"), noise >= 0, noise.isFinite,
          let rank = Int(value("--noise-rank") ?? "16"), rank >= 0,
          let batch = Int(value("--batch") ?? "5000"), batch > 0 else { throw BenchUsage(usage) }
    let indexType = value("--index-type") ?? "auto"
    guard let modelURL = value("--model").map({ URL(fileURLWithPath: $0) }) ?? DefaultModel.locate() else {
        throw BenchUsage("the default model is missing: pass --model DIR")
    }
    let dir = URL(fileURLWithPath: out)
    if Catalog.exists(dir), let existing = try? Catalog.open(dir, loadIndex: false), let n = try? existing.store.count, n > 0 {
        throw BenchUsage("\(out) already holds a catalog of \(n) items: remove it or choose another --out")
    }

    let t0 = Date()
    let embedder = try Embedder(modelDirectory: modelURL)
    let identity = try ModelFingerprint.identity(of: embedder.model)
    let d = identity.dimension
    let catalog = try Catalog.openForWriting(dir, identity: identity, modelPath: modelURL.path,
                                             orientation: embedder.preprocessor.decoder.orientation,
                                             precision: embedder.model.precision,
                                             jpegDecoding: embedder.preprocessor.decoder.jpegDecoding)
    let captions = SyntheticQueries.captions(count: centreCount, seed: seed &+ 1)
    let centres = try embedder.embedTexts(captions).data
    progress("synth-index: model \(identity.name) (\(identity.fingerprint.prefix(12)), d=\(d)); \(captions.count) caption centres embedded")

    var rng = SplitMix64(seed: seed)
    // Per centre: `rank` random unit directions (rows of [C * rank, d]).
    var directions = [Double](repeating: 0, count: captions.count * rank * d)
    for r in 0..<(captions.count * rank) {
        var norm = 0.0
        for c in 0..<d { let g = rng.gaussian(); directions[r * d + c] = g; norm += g * g }
        for c in 0..<d { directions[r * d + c] /= norm.squareRoot() }
    }
    let sigma = noise * (rank > 0 ? 0.3 : 1) / Double(d).squareRoot()
    let local = rank > 0 ? noise * 0.9 / Double(rank).squareRoot() : 0
    let tAdd = Date()
    for start in stride(from: 0, to: items, by: batch) {
        let n = min(batch, items - start)
        var vectors = [Float](repeating: 0, count: n * d)
        var newItems: [NewItem] = []
        newItems.reserveCapacity(n)
        for i in 0..<n {
            let a = rng.below(captions.count), b = rng.below(captions.count)
            let beta = 0.5 * rng.uniform()
            var v = [Double](repeating: 0, count: d)
            for c in 0..<d { v[c] = Double(centres[a * d + c]) + beta * Double(centres[b * d + c]) + sigma * rng.gaussian() }
            for j in 0..<rank {
                let w = local * rng.gaussian()
                let row = (a * rank + j) * d
                for c in 0..<d { v[c] += w * directions[row + c] }
            }
            var norm = 0.0
            for c in 0..<d { norm += v[c] * v[c] }
            let scale = 1 / norm.squareRoot()
            for c in 0..<d { vectors[i * d + c] = Float(v[c] * scale) }
            let id = start + i
            let hex = String(id, radix: 16)
            newItems.append(NewItem(
                path: FilePathBytes(String(format: "/synthetic/%06d.png", id)),
                contentHash: String(repeating: "0", count: 64 - hex.count) + hex,
                fileSize: 4096, mtimeNanoseconds: 1_700_000_000_000_000_000, width: 256, height: 256,
                embedding: Array(vectors[(i * d)..<((i + 1) * d)]), metadata: "{\"cluster\":\(a)}"))
        }
        let added = try catalog.store.add(newItems)
        try catalog.indexAdded(ids: added.map(\.id), vectors: vectors, coveredSequence: try catalog.store.lastSequence)
        progress(String(format: "synth-index: %d / %d items stored (%.1f s)", start + n, items, Date().timeIntervalSince(tAdd)))
    }
    let stored = Date().timeIntervalSince(tAdd)
    // As `kestrel index add` does: tuning also measures the model's generic text prompts.
    try catalog.setTuningQueries(try embedder.tuningQueries())
    progress("synth-index: building the index (\(indexType))...")
    let report = try catalog.rebuildIndex(spec: indexType == "auto" ? nil : indexType)
    print("synth-index: \(items) items (\(captions.count) centres, noise \(noise), noise rank \(rank), seed \(seed)) in \(out)")
    print(String(format: "stored in %.1f s; index %@ built in %.1f s (%@); total %.1f s",
                 stored, report.factory, report.seconds, report.tuning ?? "no tuning", Date().timeIntervalSince(t0)))
}

/// A line on stderr, at once.
func progress(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

/// A usage or argument error of a bench subcommand: printed, exit status 2.
struct BenchUsage: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
