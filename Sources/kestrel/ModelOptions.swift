import ArgumentParser
import Foundation
import KestrelEngine

/// Options shared by the commands that run a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Model folder (Hugging Face or OpenCLIP layout).")
    var model: String

    @Option(name: .long, help: "Transparency: 'white' composites onto white (Hugging Face default), 'drop' discards alpha (OpenAI/OpenCLIP default).")
    var alpha: AlphaOption?

    @Option(name: .long, help: "Refuse images with more pixels than this (decompression-bomb guard).")
    var pixelLimit: Int?

    @Option(name: .long, help: "Inputs per model call.")
    var batchSize: Int = 16

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        if let pixelLimit, pixelLimit <= 0 { throw ValidationError("--pixel-limit must be positive") }
    }

    func embedder() throws -> Embedder {
        let url = URL(fileURLWithPath: model)
        guard FileManager.default.fileExists(atPath: url.path) else { throw ValidationError("--model \(model): no such folder") }
        return try Embedder(modelDirectory: url, alpha: alpha?.handling, pixelLimit: pixelLimit, batchSize: batchSize)
    }
}

/// `--alpha white|drop`.
enum AlphaOption: String, ExpressibleByArgument {
    case white, drop
    var handling: PreprocessConfig.AlphaHandling { self == .white ? .compositeOnWhite : .drop }
}
