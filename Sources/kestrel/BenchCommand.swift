import ArgumentParser
import Foundation
import KestrelEngine

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure a model here: images/s at batch 32, ms per image at batch 1, text-query latency, peak memory.",
        discussion: """
            Random preprocessed pixels (fixed seed) and fixed English texts; each figure is the best
            of --repeats runs after a warm-up. Text queries are timed end to end (tokenize, encode,
            L2-normalise): a 7-token query ("a photo of a dog"), one that fills the 77-token context,
            and 7, 8, 9 and 16 tokens. Peak memory is the process's resident high-water mark
            (VmHWM), loading included. dense_ms_batch1 times the dense patch features of one picture
            (what `kestrel ground` runs per picture with a CLIP model; MaskCLIP, the default method)
            and dense_over_image is its ratio to image_ms_batch1 in the same run.
            --json keys: image_per_s_batch32, image_ms_batch1, dense_ms_batch1, dense_over_image,
            dense_method, dense_ms_by_method, text_ms_short, text_ms_77,
            text_tokens_short, text_tokens_long, text_ms_by_tokens, peak_rss_mb, load_s, precision,
            requested_precision, gemm_backend, threads, cores, cpu.
            """)

    @Option(name: .long, help: "Model folder (Hugging Face or OpenCLIP layout). Default: the model shipped with Kestrel (or $KESTREL_MODEL).")
    var model: String?

    @OptionGroup var precisionOptions: PrecisionOptions

    @Option(name: .long, parsing: .unconditional, help: "Worker threads for the kernels, 1 to \(BenchCommand.maxThreads) (default: all cores).")
    var threads: Int?

    /// The most worker threads `--threads` takes.
    static let maxThreads = 1024

    /// The most timed runs `--repeats` takes (each is a full batch of 32 images and more).
    static let maxRepeats = 1000

    @Option(name: .long, parsing: .unconditional, help: "Timed runs per figure (the best is kept), 1 to 1000.")
    var repeats = 3

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        if model == "" { throw ValidationError("--model needs a folder name; '' names none") }
        // libgomp crashes (a stack overflow in its team start) or stalls with tens of thousands of threads.
        if let threads, !(1...Self.maxThreads).contains(threads) {
            throw ValidationError("--threads must be between 1 and \(Self.maxThreads), got \(threads)")
        }
        guard (1...Self.maxRepeats).contains(repeats) else {
            throw ValidationError("--repeats must be between 1 and \(Self.maxRepeats), got \(repeats)")
        }
    }

    func run() throws {
        try reportingErrors {
            if let threads { Kernels.threads = threads }
            let url = try modelFolder(model)
            let t0 = Date()
            let embedder = try Embedder(modelDirectory: url, batchSize: 32, precision: precisionOptions.value)
            let load = Date().timeIntervalSince(t0)
            warnAboutPrecision(embedder.model)
            let r = try ModelBenchmark.run(embedder, loadSeconds: load, repeats: repeats,
                                           progress: { json ? () : Console.say("measuring: \($0)") })
            if json {
                Console.emit(.object([
                    ("model", .string(embedder.model.directory.path)),
                    ("image_per_s_batch32", .double(r.imagePerSecondBatch)),
                    ("image_ms_batch1", .double(r.imageMillisecondsBatch1)),
                    ("dense_ms_batch1", .double(r.denseMillisecondsBatch1)), ("dense_over_image", .double(r.denseOverImage)),
                    ("dense_method", .string(r.denseMethod)),
                    ("dense_ms_by_method", .object(r.denseMillisecondsByMethod.map { ($0.method, .double($0.ms)) })),
                    ("text_ms_short", .double(r.textMillisecondsShort)), ("text_tokens_short", .int(r.textTokensShort)),
                    ("text_ms_77", .double(r.textMillisecondsLong)), ("text_tokens_long", .int(r.textTokensLong)),
                    ("text_ms_by_tokens", .object(r.textMillisecondsByTokens.map { ("\($0.tokens)", .double($0.ms)) })),
                    ("peak_rss_mb", .double(r.peakResidentMB)), ("load_s", .double(r.loadSeconds)),
                    ("precision", .string(r.precision.rawValue)), ("requested_precision", .string(r.requestedPrecision.rawValue)),
                    ("gemm_backend", .string(r.backend)), ("threads", .int(r.threads)), ("cores", .int(r.cores)),
                    ("cpu", .string(r.cpuModel)),
                ]))
                return
            }
            let m = embedder.model
            print("model:     \(Console.field(m.directory.path)) (\(m.layout.rawValue), \(formatCount(m.parameterCount)) parameters)")
            print("machine:   \(r.cpuModel), \(r.cores) cores, \(r.threads) threads")
            print("precision: \(r.precision.rawValue) on \(r.backend)\(r.precision != r.requestedPrecision ? " (asked for \(r.requestedPrecision.rawValue))" : "")")
            var rows: [(String, String)] = [
                ("images/s, batch \(r.batch)", String(format: "%.1f", r.imagePerSecondBatch)),
                ("ms per image, batch 1", String(format: "%.1f", r.imageMillisecondsBatch1)),
                ("dense features (\(r.denseMethod)), ms, batch 1", String(format: "%.1f", r.denseMillisecondsBatch1)),
                ("  dense / image", String(format: "%.2f", r.denseOverImage)),
            ]
            for d in r.denseMillisecondsByMethod { rows.append(("  \(d.method) (ms)", String(format: "%.1f", d.ms))) }
            rows.append(("text query, \(r.textTokensShort) tokens (ms)", String(format: "%.2f", r.textMillisecondsShort)))
            rows.append(("text query, \(r.textTokensLong) tokens (ms)", String(format: "%.2f", r.textMillisecondsLong)))
            for t in r.textMillisecondsByTokens { rows.append(("  \(t.tokens) tokens (ms)", String(format: "%.2f", t.ms))) }
            rows.append(("peak resident memory (MB)", String(format: "%.0f", r.peakResidentMB)))
            rows.append(("model load (s)", String(format: "%.2f", r.loadSeconds)))
            let width = rows.map(\.0.count).max() ?? 0
            for (what, figure) in rows { print(what.padding(toLength: width + 2, withPad: " ", startingAt: 0) + figure) }
        }
    }
}
