import ArgumentParser
import Foundation
import KestrelEngine

/// Options shared by the commands that run a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Model folder (Hugging Face or OpenCLIP layout).")
    var model: String

    @Option(name: .long, help: "Transparency: 'white' composites onto white (Hugging Face default), 'drop' discards alpha (OpenAI/OpenCLIP default).")
    var alpha: AlphaOption?

    @Option(name: .long, help: "Refuse images with more pixels than this, at least 1 (decompression-bomb guard).")
    var pixelLimit: Int?

    @Option(name: .long, help: "Inputs per model call, at least 1.")
    var batchSize: Int = 16

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if let pixelLimit, pixelLimit < 1 { throw ValidationError("--pixel-limit must be at least 1, got \(pixelLimit)") }
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
