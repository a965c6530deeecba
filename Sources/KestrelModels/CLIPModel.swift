import Foundation
import KestrelKernels

/// A CLIP model loaded from a folder in either layout: both towers, the projections and the
/// temperature. Inputs are token ids and preprocessed pixels; see `Embedder` for text and files.
public final class CLIPModel: Sendable {
    public let directory: URL
    public let layout: CheckpointLayout
    public let config: CLIPConfig
    public let vision: VisionTransformer
    public let text: TextTransformer
    /// `logit_scale` as stored: a log. Similarity logits are exp(logitScale) * cosine.
    public let logitScale: Float
    /// Parameters read from the checkpoint.
    public let parameterCount: Int
    /// On-disk dtypes of the checkpoint tensors (F32, F16, BF16).
    public let storedDTypes: [String]
    /// Checkpoint tensors that the architecture did not use (reported by `kestrel info`).
    public let unusedTensors: [String]
    /// The config and weight files this model was read from.
    public let configURL: URL
    public let weightsURL: URL
    /// The precision asked for at load.
    public let requestedPrecision: Precision
    /// The precision the linear layers actually run in (fp32 when the requested one cannot run
    /// on this processor or in this build; see `precisionNote`).
    public let precision: Precision
    /// Why `precision` differs from the one asked for (or why the fastest backend is not used),
    /// for the user as a warning; nil when the request is honoured as asked.
    public let precisionNote: String?
    /// The GEMM backend every linear layer was packed for ("openblas", "onednn").
    public let gemmBackend: String

    /// The layout of a model folder, from the files it holds.
    public static func detectLayout(_ directory: URL) throws -> (CheckpointLayout, config: URL, weights: URL) {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDir), isDir.boolValue else {
            throw ModelError.notAModelFolder(directory)
        }
        let hfConfig = directory.appendingPathComponent("config.json")
        let ocConfig = directory.appendingPathComponent("open_clip_config.json")
        if fm.fileExists(atPath: ocConfig.path) {
            let weights = ["open_clip_model.safetensors", "model.safetensors"]
                .map { directory.appendingPathComponent($0) }
                .first { fm.fileExists(atPath: $0.path) }
            guard let weights else { throw ModelError.missingFile(directory.appendingPathComponent("open_clip_model.safetensors")) }
            return (.openCLIP, ocConfig, weights)
        }
        if fm.fileExists(atPath: hfConfig.path) {
            let weights = directory.appendingPathComponent("model.safetensors")
            guard fm.fileExists(atPath: weights.path) else { throw ModelError.missingFile(weights) }
            return (.huggingFace, hfConfig, weights)
        }
        throw ModelError.notAModelFolder(directory)
    }

    /// Loads the model folder `directory`, packing every linear layer (the fused q|k|v, attention
    /// out, MLP, patch embedding, projections) for `precision` through `GEMMBackends.choose`.
    /// Only what the forward needs stays in memory: no fp32 copy of a packed weight, and the
    /// checkpoint's mapped pages are given back as each tensor is read.
    /// Throws `ModelError` naming the file, field or tensor that is wrong.
    public init(directory: URL, precision: Precision = .fp32) throws {
        let gemm = GEMMBackends.choose(for: precision)
        requestedPrecision = precision
        self.precision = gemm.precision
        precisionNote = gemm.note
        gemmBackend = gemm.backend.name
        let (layout, configURL, weightsURL) = try Self.detectLayout(directory)
        self.directory = directory
        self.layout = layout
        self.configURL = configURL
        self.weightsURL = weightsURL
        try ModelFiles.checkFolder(directory)
        config = try .load(configURL, layout: layout)
        let file = try SafeTensorsFile(url: weightsURL)
        let reader = WeightReader(file: file, layout: layout)
        // Every size in the config against the shapes the checkpoint holds, before building anything.
        try ConfigCheck(config: config, reader: reader, configURL: configURL).run()
        vision = try VisionTransformer(reading: reader, config: config, gemm: gemm)
        text = try TextTransformer(reading: reader, config: config, gemm: gemm)
        logitScale = try reader.tensor("logit_scale", shape: [1]).data[0]
        guard abs(logitScale) <= Float(ConfigLimits.logitScale) else {
            throw ModelError.badTensorValue(file: weightsURL, name: "logit_scale",
                                            reason: "is \(logitScale): exp(logit_scale) overflows float32 (a log temperature is about 4.6)")
        }
        parameterCount = reader.parameterCount
        storedDTypes = file.dtypes.sorted()
        unusedTensors = reader.unusedKeys
    }

    /// Token-id sequences -> [B, E] text embeddings (not normalised).
    /// Throws `ModelError.nonFiniteOutput` rather than return NaN or infinite values.
    public func encodeText(_ sequences: [[Int]]) throws -> Tensor {
        try Self.requireFinite(try text.forward(sequences), "text embedding")
    }

    /// Every value of the [B, E] output is finite, else the first bad row is named.
    static func requireFinite(_ t: Tensor, _ what: String) throws -> Tensor {
        if let bad = t.data.firstIndex(where: { !$0.isFinite }) {
            throw ModelError.nonFiniteOutput(what: what, row: bad / max(t.shape.last ?? 1, 1))
        }
        return t
    }

    /// Preprocessed pixels [B, 3, S, S] -> [B, E] image embeddings (not normalised).
    public func encodeImages(_ pixels: Tensor) throws -> Tensor {
        let s = config.imageSize
        guard pixels.rank == 4, pixels.shape[1] == 3, pixels.shape[2] == s, pixels.shape[3] == s else {
            throw ModelError.badPixels(expected: 3 * s * s, found: pixels.count / max(pixels.shape.first ?? 1, 1))
        }
        return try Self.requireFinite(vision.forward(pixels), "image embedding")
    }
}
