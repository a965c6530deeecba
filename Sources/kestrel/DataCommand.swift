import ArgumentParser
import Foundation
import KestrelEngine
import KestrelTraining

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Build training and evaluation data from Debian packages and rendered scenes.",
        subcommands: [DataBuildCommand.self, DataGroundingCommand.self])
}

struct DataBuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Write a data folder: images, manifest.jsonl, eval/*.csv and build.json (docs/data.md).",
        discussion: """
            Sources: fashion-mnist (dataset-fashion-mnist), openclipart (openclipart-png), emoji
            (fonts-noto-color-emoji), scenes and grounding (both drawn by Kestrel; grounding: 2-4
            shapes with same-shape and same-colour distractors, for the region-phrase loss). scripts/install-deps.sh installs the
            packages. The folder is built as <out>.partial-<pid> and renamed when complete; progress goes
            to stderr, a summary to stdout.
            """)

    @Option(name: .long, help: "The data folder to create (must not exist).")
    var out: String

    @Option(name: .long, help: "Comma-separated sources (default: all): fashion-mnist,openclipart,emoji,scenes,grounding.")
    var only: String?

    @Option(name: .long, help: "Training scenes to render (held-out scenes: one per 15, at least 8).")
    var scenes: Int = 30_000

    @Option(name: .long, help: "Training scenes of the grounding source (all training: its held-out scenes come from `kestrel data grounding`).")
    var groundingScenes: Int = GroundingTrainingSource.defaultCount

    @Option(name: .long, help: "Seed for captions, held-out splits and scenes.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Worker threads.")
    var threads: Int = 2

    func validate() throws {
        if out.isEmpty { throw ValidationError("--out needs a folder name") }
        if scenes < 1 || scenes > 10_000_000 { throw ValidationError("--scenes must be 1...10000000, got \(scenes)") }
        if groundingScenes < 1 || groundingScenes > 10_000_000 {
            throw ValidationError("--grounding-scenes must be 1...10000000, got \(groundingScenes)")
        }
        if threads < 1 || threads > 256 { throw ValidationError("--threads must be 1...256, got \(threads)") }
        if let only {
            for s in only.split(separator: ",", omittingEmptySubsequences: false).map(String.init) where !DataBuildOptions.allSources.contains(s) {
                throw ValidationError("--only: unknown source '\(s)'; choose from \(DataBuildOptions.allSources.joined(separator: ","))")
            }
        }
    }

    func run() throws {
        var options = DataBuildOptions(output: URL(fileURLWithPath: out))
        if let only { options.sources = only.split(separator: ",").map(String.init) }
        options.scenes = scenes
        options.groundingScenes = groundingScenes
        options.seed = seed
        options.threads = threads
        let summary = try reportingErrors {
            try DataBuilder.build(options) { line in FileHandle.standardError.write(Data(("data build: " + line + "\n").utf8)) }
        }
        for (source, splits) in summary.counts.sorted(by: { $0.key < $1.key }) {
            print("\(source): " + splits.sorted(by: { $0.key < $1.key }).map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        print(String(format: "%d files in %.1f s (%d threads) -> ", summary.total, summary.elapsedSeconds, summary.threads)
              + RawArguments.path(out).description)
    }
}
