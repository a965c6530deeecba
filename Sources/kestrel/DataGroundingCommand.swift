import ArgumentParser
import Foundation
import KestrelEngine
import KestrelTraining

/// `kestrel data grounding`: rendered scenes with exact boxes and one query each, for `kestrel eval grounding`.
struct DataGroundingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grounding",
        abstract: "Write rendered grounding scenes: images/*.png and grounding.jsonl (docs/data.md).",
        discussion: """
            Each scene is 224x224 with 2-4 shapes that do not overlap; one is the target, named by \
            the query "a {colour} {shape}", the others share its shape (in another colour) or its \
            colour (in another shape), so neither word alone finds it. grounding.jsonl holds one \
            line per scene: the picture's path, the query, the target's box [x0, y0, x1, y1] in \
            pixels, every object with its shape, colour and box. The held-out split's seed stream \
            is disjoint from the training scenes' (kestrel data build). Same options, same files.
            """)

    @Option(name: .long, help: "The folder to write into (made if missing; must not hold a grounding.jsonl or pictures in images/).")
    var out: String
    @Option(name: .long, parsing: .unconditional, help: "Scenes to write, 1 to 1000000.")
    var count = GroundingScenes.defaultCount
    @Option(name: .long, parsing: .unconditional, help: "Seed of the scenes.")
    var seed = GroundingScenes.defaultSeed
    @Option(name: .long, help: "train or heldout (default): two disjoint seed streams.")
    var split = "heldout"
    @Option(name: .long, help: "Shape-colour pairs held out of training (ScenesSource): any (default), heldout (the target is one), exclude-heldout (no object is one).")
    var combinations = "any"
    @Flag(name: .long, help: "Name a striped or dotted target's texture in the query (\"a striped red circle\").")
    var textureInQuery = false
    @Option(name: .long, parsing: .unconditional, help: "Worker threads.")
    var threads = 2

    func validate() throws {
        if out.isEmpty { throw ValidationError("--out needs a folder name") }
        guard (1...1_000_000).contains(count) else { throw ValidationError("--count must be 1...1000000, got \(count)") }
        guard GroundingScenes.Split(rawValue: split) != nil else { throw ValidationError("--split must be train or heldout, got '\(split)'") }
        guard GroundingScenes.Combinations(rawValue: combinations) != nil else {
            throw ValidationError("--combinations must be any, heldout or exclude-heldout, got '\(combinations)'")
        }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be 1...256, got \(threads)") }
    }

    func run() throws {
        let folder = try RawArguments.textURL(out, option: "--out")
        let options = GroundingScenes.Options(combinations: GroundingScenes.Combinations(rawValue: combinations) ?? .any,
                                              textureInQuery: textureInQuery)
        let start = Date()
        var progress: (@Sendable (Int, Int) -> Void)? = nil
        if Console.stderrIsTerminal {
            progress = { (done: Int, total: Int) in Console.writeStderr("\rrendered scenes \(done)/\(total)" + (done == total ? "\n" : "")) }
        }
        _ = try reportingErrors {
            try GroundingScenes.write(to: folder, count: count, split: GroundingScenes.Split(rawValue: split) ?? .heldout, seed: seed,
                                      options: options, threads: threads, progress: progress)
        }
        print(String(format: "%d %@ scenes in %.1f s -> ", count, split, Date().timeIntervalSince(start))
              + RawArguments.path(out).appending(Array("grounding.jsonl".utf8)).description)
    }
}
