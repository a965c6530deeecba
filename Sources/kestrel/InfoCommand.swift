import ArgumentParser
import Foundation
import KestrelEngine

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Describe a model folder: architecture, parameters, dtype, embedding size.")

    @Option(name: .long, help: "Model folder (Hugging Face or OpenCLIP layout). Default: the model shipped with Kestrel (or $KESTREL_MODEL).")
    var model: String?

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    @OptionGroup var precisionOptions: PrecisionOptions

    func run() throws {
        try reportingErrors { try describe(try loadModel(model, precision: precisionOptions.value)) }
    }

    func describe(_ m: CLIPModel) throws {
        let c = m.config
        if json {
            Console.emit(.object([
                ("model", .string(m.directory.path)), ("path", .string(m.directory.path)), ("layout", .string(m.layout.rawValue)),
                ("parameters", .int(m.parameterCount)), ("dtype", .array(m.storedDTypes.map(JSONValue.string))),
                ("embedding_dim", .int(c.embedDim)), ("logit_scale", .float(m.logitScale)),
                ("vision", .object([
                    ("image_size", .int(c.imageSize)), ("patch_size", .int(c.patchSize)),
                    ("width", .int(c.vision.width)), ("layers", .int(c.vision.layers)),
                    ("heads", .int(c.vision.heads)), ("mlp_width", .int(c.vision.mlpWidth)),
                    ("activation", .string(c.vision.activation))])),
                ("text", .object([
                    ("context_length", .int(c.contextLength)), ("vocab_size", .int(c.vocabSize)),
                    ("width", .int(c.text.width)), ("layers", .int(c.text.layers)),
                    ("heads", .int(c.text.heads)), ("mlp_width", .int(c.text.mlpWidth)),
                    ("activation", .string(c.text.activation))])),
                ("unused_tensors", .array(m.unusedTensors.map(JSONValue.string))),
                ("precision", .string(m.precision.rawValue)), ("gemm_backend", .string(m.gemmBackend)),
            ]))
            return
        }
        print("""
            model:         \(Console.field(m.directory.path))
            layout:        \(m.layout == .huggingFace ? "Hugging Face (config.json)" : "OpenCLIP (open_clip_config.json)")
            architecture:  ViT image tower: \(c.imageSize) px, patch \(c.patchSize), width \(c.vision.width), \(c.vision.layers) layers, \(c.vision.heads) heads, MLP \(c.vision.mlpWidth), \(c.vision.activation)
                           text tower: width \(c.text.width), \(c.text.layers) layers, \(c.text.heads) heads, MLP \(c.text.mlpWidth), \(c.text.activation), context \(c.contextLength), vocabulary \(c.vocabSize)
            parameters:    \(m.parameterCount) (\(formatCount(m.parameterCount)))
            dtype:         \(m.storedDTypes.joined(separator: ", ")) on disk
            precision:     \(m.precision.rawValue) products on \(m.gemmBackend)
            embedding dim: \(c.embedDim)
            logit scale:   \(m.logitScale) (temperature exp = \(exp(m.logitScale)))
            """)
        if !m.unusedTensors.isEmpty {
            Console.warning("\(m.unusedTensors.count) checkpoint tensors unused: \(m.unusedTensors.prefix(5).joined(separator: ", "))")
        }
    }
}

func formatCount(_ n: Int) -> String {
    n >= 1_000_000 ? String(format: "%.1fM", Double(n) / 1e6) : String(format: "%.1fk", Double(n) / 1e3)
}
