import ArgumentParser
import Foundation
import KestrelEngine
import KestrelFiles
import KestrelTraining

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a CLIP model from a recipe (recipes/default.json) on a folder built by `kestrel data build`.",
        discussion: """
            Writes into --out: train.jsonl (one line per log step: step, loss, lr, logit_scale, \
            grad_norm, samples_per_s, elapsed_s), checkpoints/ (every checkpoint_every steps; the \
            two newest are kept), run.json (recipe, seed, data manifest SHA-256, git describe, \
            machine, threads, samples/s, peak memory, dates) and model/ (the trained model as a \
            Hugging Face folder).

            Killed or stopped, a run continues exactly with --resume. The same recipe, seed and \
            thread count on the same machine give the same losses.
            """)

    @Option(name: .long, help: "The recipe file (JSON, \"format\": \"kestrel-recipe\").")
    var recipe: String

    @Option(name: .long, help: "The run folder (default: runs/<recipe name>).")
    var out: String?

    @Flag(name: .long, help: "Continue from the newest checkpoint in --out (refused if the recipe, threads or data manifest differ). Without it, --out must be new or empty.")
    var resume = false

    @Option(name: .long, help: "Train this many steps instead of the recipe's (part of the recipe: a resumed run must give the same).")
    var steps: Int?

    @Option(name: .long, help: "Threads instead of the recipe's (they change the numerics: a resumed run must be given the same).")
    var threads: Int?

    @Flag(name: .long, help: "No progress lines on stderr.")
    var quiet = false

    @Option(name: .long, help: "Only time the data loader: prepare N batches (decode, augment, tokenize), print ms per batch, and exit.")
    var measureLoader: Int?

    func validate() throws {
        if recipe.isEmpty { throw ValidationError("--recipe needs a file name") }
        if let out, out.isEmpty { throw ValidationError("--out needs a folder name; '' names none") }
        if let steps, !(1...100_000_000).contains(steps) { throw ValidationError("--steps must be in 1...100000000, got \(steps)") }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be in 1...256, got \(threads)") }
        if let n = measureLoader, !(1...100_000).contains(n) { throw ValidationError("--measure-loader must be in 1...100000, got \(n)") }
    }

    func run() throws {
        try reportingErrors {
            let recipeURL = URL(fileURLWithPath: recipe)
            var r = try Recipe.load(recipeURL)
            if let steps {
                r.steps = steps
                r.warmupSteps = min(r.warmupSteps, steps)
            }
            if let threads { r.threads = threads }
            try r.validate(file: recipe)
            let name = recipeURL.deletingPathExtension().lastPathComponent
            let outURL = URL(fileURLWithPath: out ?? "runs/\(name)")
            let (setup, _) = try TrainingSetup.clip(recipe: r, recipeFile: recipeURL, bpeGzip: try BundledFiles.vocabulary())
            let dataFolder = Recipe.resolve(r.data.folder, relativeTo: recipeURL)
            let loader = try DataLoader(folder: dataFolder, weights: r.data.sources, seed: r.seed, tokenizer: setup.tokenizer,
                                        options: DataLoader.Options(recipe: r, setup: setup))
            if let n = measureLoader {
                let m = try loader.measure(batches: n, batchSize: r.batchSize)
                print(String(format: "loader: %d batches of %d at %dx%d: first %.1f ms (cold cache), second half %.1f ms per batch (%.0f samples/s), cache %d MB",
                             n, r.batchSize, setup.imageSize, setup.imageSize, m.firstMs, m.restMs, m.samplesPerSecond, m.cacheBytes >> 20))
                return
            }
            var options = Trainer.Options(out: outURL)
            options.resume = resume
            options.progress = !quiet
            options.recipeFile = recipe
            let trainer = try Trainer(recipe: r, setup: setup, loader: loader, options: options)
            let summary = try trainer.run()
            let loss = summary.finalLoss.map { String(format: "%.4f", $0) } ?? "-"
            print("trained \(summary.steps) steps, final loss \(loss), \(String(format: "%.1f", summary.samplesPerSecond)) samples/s; "
                  + "model in \(outURL.appendingPathComponent("model").path)")
        }
    }
}
