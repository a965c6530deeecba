import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The figures `kestrel bench` prints: the image tower's throughput and latency, text-query
/// latency end to end, peak memory, and the facts needed to compare runs (machine, backend).
public struct ModelBenchmarkResult: Sendable {
    /// Images per second at `batch` (32) images per call, best of the runs.
    public var imagePerSecondBatch: Double
    public var batch: Int
    /// Milliseconds per image at batch 1, best of the runs.
    public var imageMillisecondsBatch1: Double
    /// Milliseconds per image at batch 1 for the dense patch features of `denseMethod`
    /// (`VisionTransformer.denseFeatures`, what dense-CLIP grounding runs per picture), best of the runs.
    public var denseMillisecondsBatch1: Double
    /// The dense method timed (`DenseMethod.rawValue`), and each method's ms at batch 1.
    public var denseMethod: String
    public var denseMillisecondsByMethod: [(method: String, ms: Double)]
    /// dense ms / image ms at batch 1, the two timed in the same run.
    public var denseOverImage: Double { imageMillisecondsBatch1 > 0 ? denseMillisecondsBatch1 / imageMillisecondsBatch1 : 0 }
    /// A short text query end to end (tokenize, encode, L2-normalise), ms, and its token count.
    public var textMillisecondsShort: Double
    public var textTokensShort: Int
    /// A text that fills the context (77 tokens for CLIP), ms, and its token count.
    public var textMillisecondsLong: Double
    public var textTokensLong: Int
    /// Text-query latency (ms) by token count, to show a short query is never slower than a longer one.
    public var textMillisecondsByTokens: [(tokens: Int, ms: Double)]
    /// Peak resident memory of the process so far (getrusage ru_maxrss), in MB (10^6 bytes).
    public var peakResidentMB: Double
    /// Seconds to load the model (both towers).
    public var loadSeconds: Double
    public var precision: Precision
    public var requestedPrecision: Precision
    public var precisionNote: String?
    public var backend: String
    public var threads: Int
    public var cores: Int
    public var cpuModel: String
}

/// Measures a loaded model the way `kestrel bench` reports it. Each figure is the best of
/// `repeats` runs after one warm-up run; inputs are random preprocessed pixels (fixed seed) and
/// fixed English texts.
public enum ModelBenchmark {
    /// The short query: "a photo of a dog" is 7 tokens with the start and end tokens.
    public static let shortText = "a photo of a dog"

    /// The dense method `dense_ms_batch1` reports: the one dense-CLIP grounding uses by default.
    public static let denseMethod: DenseMethod = .standard

    public static func run(_ embedder: Embedder, loadSeconds: Double, repeats: Int = 3, batch: Int = 32,
                           progress: (String) -> Void = { _ in }) throws -> ModelBenchmarkResult {
        let model = embedder.model
        let s = model.config.imageSize
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        }
        func best(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
            try body()  // warm-up
            var t = Double.infinity
            for _ in 0..<max(1, runs) { t = min(t, try seconds(body)) }
            return t
        }
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func pixels(_ n: Int) -> Tensor {
            let count = n * 3 * s * s
            return Tensor(shape: [n, 3, s, s], data: (0..<count).map { _ in
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int64(bitPattern: seed >> 11) % 4001) / 1000 - 2  // about -2...2, like normalised pixels
            })
        }
        progress("image tower, batch \(batch)")
        let big = pixels(batch)
        let tBatch = try best(repeats) { _ = try model.encodeImages(big) }
        let one = pixels(1)
        // Batch-1 image and dense runs interleaved, so that load from other processes falls on
        // both alike and their ratio (dense_over_image) stays meaningful on a busy machine.
        _ = try model.encodeImages(one)
        for method in DenseMethod.allCases { _ = model.vision.denseFeatures(one, method: method) }  // warm-up
        var tOne = Double.infinity
        var denseBest = [Double](repeating: .infinity, count: DenseMethod.allCases.count)
        progress("image tower and dense patch features, batch 1")
        for _ in 0..<max(repeats, 5) {
            tOne = min(tOne, try seconds { _ = try model.encodeImages(one) })
            for (i, method) in DenseMethod.allCases.enumerated() {
                denseBest[i] = min(denseBest[i], seconds { _ = model.vision.denseFeatures(one, method: method) })
            }
        }
        let denseByMethod = zip(DenseMethod.allCases, denseBest).map { (method: $0.rawValue, ms: $1 * 1000) }
        let denseMs = denseByMethod.first { $0.method == denseMethod.rawValue }?.ms ?? 0

        progress("text queries")
        func textTime(_ text: String) throws -> (tokens: Int, ms: Double) {
            let tokens = embedder.tokenize(text).count
            let t = try best(max(repeats, 10)) { _ = try embedder.embedTexts([text]) }
            return (tokens, t * 1000)
        }
        let short = try textTime(shortText)
        let long = try textTime(longText(embedder))
        var sweep: [(tokens: Int, ms: Double)] = []
        for n in [7, 8, 9, 16] where n <= model.config.contextLength {
            sweep.append(try textTime(text(tokens: n, embedder)))
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        return ModelBenchmarkResult(
            imagePerSecondBatch: Double(batch) / tBatch, batch: batch, imageMillisecondsBatch1: tOne * 1000,
            denseMillisecondsBatch1: denseMs, denseMethod: denseMethod.rawValue, denseMillisecondsByMethod: denseByMethod,
            textMillisecondsShort: short.ms, textTokensShort: short.tokens,
            textMillisecondsLong: long.ms, textTokensLong: long.tokens, textMillisecondsByTokens: sweep,
            peakResidentMB: Double(peakResidentBytes()) / 1e6, loadSeconds: loadSeconds,
            precision: model.precision, requestedPrecision: model.requestedPrecision, precisionNote: model.precisionNote,
            backend: model.gemmBackend, threads: Kernels.threads, cores: cores, cpuModel: cpuModelName())
    }

    /// Words that the CLIP tokenizer keeps whole, one token each.
    static let words = ["a", "photo", "of", "a", "dog", "and", "a", "cat", "on", "the", "grass", "in", "the", "park",
                        "at", "noon", "with", "a", "red", "ball"]

    /// An English text of `n` tokens (start and end tokens included) as the model's tokenizer
    /// counts them; with a vocabulary that splits these words, "a a a ..." (as near to `n` as it gets).
    static func text(tokens n: Int, _ embedder: Embedder) -> String {
        var words: [String] = []
        var i = 0
        while embedder.tokenize(words.joined(separator: " ")).count < n && words.count < 200 {
            words.append(Self.words[i % Self.words.count]); i += 1
        }
        let text = words.joined(separator: " ")
        if embedder.tokenize(text).count == n || n >= embedder.model.config.contextLength { return text }
        return [String](repeating: "a", count: max(1, n - 2)).joined(separator: " ")
    }

    /// A text that fills the model's context (longer texts are truncated to it).
    static func longText(_ embedder: Embedder) -> String {
        text(tokens: embedder.model.config.contextLength, embedder)
    }

    /// The peak resident set of this program so far, in bytes: /proc/self/status VmHWM, the
    /// high-water mark of this address space. (getrusage's ru_maxrss is not used: Linux carries it
    /// over `execve`, so a program started by a big parent, e.g. a Python benchmark script,
    /// reports the parent's size.) Falls back to ru_maxrss where /proc is missing.
    public static func peakResidentBytes() -> Int {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) {
            for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
                let kb = line.dropFirst("VmHWM:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) }
                if let kb { return kb * 1024 }
            }
        }
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Int(usage.ru_maxrss) * 1024
    }

    /// The processor's name from /proc/cpuinfo ("model name"), or "unknown".
    public static func cpuModelName() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") { return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        }
        return "unknown"
    }
}
