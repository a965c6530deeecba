import ArgumentParser
import Foundation
import KestrelEngine

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed texts and images with a CLIP model; one JSON line per input, in the order given.",
        discussion: """
            Output lines: {"kind": "text"|"image", "input": ..., "embedding": [...]}, L2-normalised
            unless --raw ("input_bytes" too, the exact name in base64, for an image file name that
            is not UTF-8). An image that cannot be read or decoded (or is a FIFO, a folder, a device,
            or larger than 512 MiB) gets an `error:` line on stderr naming the file; the other inputs
            are still written and the exit status is 1.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "A text to embed (repeatable).")
    var text: [String] = []

    @Option(name: .long, help: "An image file to embed (repeatable).")
    var image: [String] = []

    @Flag(name: .long, help: "Write the projected embeddings without L2 normalisation.")
    var raw = false

    func validate() throws {
        if text.isEmpty && image.isEmpty { throw ValidationError("nothing to embed: give --text and/or --image") }
        try RawArguments.requireUTF8(text, option: "--text")
    }

    func run() throws {
        try reportingErrors(embed)
    }

    func embed() throws {
        let embedder = try modelOptions.embedder()
        let inputs = orderedInputs()
        let texts = inputs.compactMap { if case .text(let t) = $0 { return t } else { return nil } }
        let images = inputs.compactMap { if case .image(let p) = $0 { return p } else { return nil } }
        let textVectors = try embedder.embedTexts(texts, normalize: !raw)
        let imageVectors = embedder.embedImages(images, normalize: !raw)
        var (ti, ii, failed) = (0, 0, false)
        let d = embedder.dimension
        for input in inputs {
            switch input {
            case .text(let t):
                let v = Array(textVectors.data[(ti * d)..<((ti + 1) * d)])
                ti += 1
                Console.emit(.object([("kind", .string("text")), ("input", .string(t)), ("embedding", .floats(v))]))
            case .image(let path):
                defer { ii += 1 }
                switch imageVectors[ii] {
                case .success(let v):
                    Console.emit(.object([("kind", .string("image"))] + JSONValue.path("input", path) + [("embedding", .floats(v))]))
                case .failure(let error):
                    let message = "\(error)"
                    Console.error(message.hasPrefix(path.description) ? message : "\(path): \(message)")
                    failed = true
                }
            }
        }
        if failed { throw ExitCode(1) }
    }

    enum Input { case text(String), image(FilePathBytes) }

    /// The inputs in command-line order (texts and images interleaved as the user gave them).
    func orderedInputs() -> [Input] {
        var (texts, images) = (text[...], RawArguments.paths(image)[...])
        var out: [Input] = []
        let args = CommandLine.arguments.dropFirst()
        var skipNext = false
        for arg in args {
            if skipNext { skipNext = false; continue }
            if arg == "--" { break }
            if arg == "--text" || arg.hasPrefix("--text="), let t = texts.popFirst() { out.append(.text(t)); skipNext = arg == "--text" }
            else if arg == "--image" || arg.hasPrefix("--image="), let p = images.popFirst() { out.append(.image(p)); skipNext = arg == "--image" }
        }
        // Anything the scan could not place (unusual spellings) follows in its own order.
        out += texts.map(Input.text) + images.map(Input.image)
        return out
    }
}
