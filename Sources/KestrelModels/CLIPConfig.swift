import Foundation
import KestrelImage
import KestrelKernels

/// One transformer tower's shape: width, depth, heads, MLP size, activation, LayerNorm epsilon.
public struct TowerConfig: Sendable, Equatable, Codable {
    public var width: Int
    public var layers: Int
    public var heads: Int
    public var mlpWidth: Int
    public var activation: String
    public var layerNormEps: Float

    public var headDim: Int { width / heads }

    public init(width: Int, layers: Int, heads: Int, mlpWidth: Int, activation: String, layerNormEps: Float = 1e-5) {
        self.width = width; self.layers = layers; self.heads = heads; self.mlpWidth = mlpWidth
        self.activation = activation; self.layerNormEps = layerNormEps
    }
}

/// The architecture of a CLIP model, whatever layout its folder uses.
public struct CLIPConfig: Sendable, Equatable, Codable {
    // Vision tower: images [B, 3, imageSize, imageSize] cut into patchSize x patchSize patches.
    public var imageSize: Int
    public var patchSize: Int
    public var vision: TowerConfig
    // Text tower: token ids [B, <= contextLength] from a vocabulary of vocabSize.
    public var vocabSize: Int
    public var contextLength: Int
    public var text: TowerConfig
    /// The end-of-text id the text tower pools at (first occurrence).
    public var endTokenID: Int
    /// Width of the shared embedding space.
    public var embedDim: Int

    public var patchesPerSide: Int { imageSize / patchSize }
    public var visionTokens: Int { patchesPerSide * patchesPerSide + 1 }

    public init(imageSize: Int, patchSize: Int, vision: TowerConfig, vocabSize: Int, contextLength: Int,
                text: TowerConfig, endTokenID: Int, embedDim: Int) {
        self.imageSize = imageSize; self.patchSize = patchSize; self.vision = vision
        self.vocabSize = vocabSize; self.contextLength = contextLength; self.text = text
        self.endTokenID = endTokenID; self.embedDim = embedDim
    }

    /// Checks the numbers fit together; names the offending field.
    func validate(file: URL) throws {
        func need(_ ok: Bool, _ field: String, _ reason: String) throws {
            if !ok { throw ModelError.badConfigField(file: file, field: field, reason: reason) }
        }
        for (name, tower) in [("vision", vision), ("text", text)] {
            try need(tower.width > 0 && tower.layers > 0 && tower.heads > 0 && tower.mlpWidth > 0,
                     "\(name) width/layers/heads/mlp", "must be positive")
            try need(tower.width % tower.heads == 0, "\(name) heads",
                     "(\(tower.heads)) must divide the width (\(tower.width))")
            do { _ = try Activation(configName: tower.activation) } catch {
                throw ModelError.badConfigField(file: file, field: "\(name) activation",
                                                reason: "\"\(tower.activation)\" is unknown: \(error)")
            }
        }
        try need(patchSize > 0 && imageSize > 0 && imageSize % patchSize == 0, "image_size/patch_size",
                 "image size \(imageSize) must be a positive multiple of the patch size \(patchSize)")
        try need(vocabSize > 0 && contextLength > 1 && embedDim > 0, "vocab/context/projection",
                 "must be positive")
        try need(endTokenID >= 0 && endTokenID < vocabSize, "eos_token_id",
                 "\(endTokenID) is outside the vocabulary (\(vocabSize))")
    }
}

extension CLIPConfig {
    /// Reads the config file of a folder in `layout`.
    public static func load(_ url: URL, layout: CheckpointLayout) throws -> CLIPConfig {
        layout == .huggingFace ? try huggingFace(url) : try openCLIP(url)
    }
}

// MARK: - Hugging Face config.json

extension CLIPConfig {
    /// Reads a Hugging Face `config.json` (CLIPModel). Missing fields take transformers' defaults.
    public static func huggingFace(_ url: URL) throws -> CLIPConfig {
        let root = try readJSONObject(url)
        // Another architecture's folder must not load as CLIP with default sizes (a wrong model, or
        // an error about tensor names far from the cause).
        if let type = root["model_type"], !(type is NSNull) {
            guard let name = type as? String, name == "clip" else {
                let shown = (type as? String).map { "\"\($0)\"" } ?? "\(type)"
                throw ModelError.unsupportedFeature(
                    file: url, field: "model_type",
                    reason: "is \(shown); Kestrel runs CLIP folders (\"clip\") everywhere, and OWL-ViT/OWLv2 detectors (\"owlvit\", \"owlv2\") with `kestrel ground` and `kestrel eval grounding`")
            }
        }
        return try huggingFaceTowers(root, file: url, defaults: HuggingFaceDefaults(imageSize: 224, patchSize: 32, contextLength: 77))
    }

    /// What a Hugging Face config leaves out takes these (transformers' defaults differ by model).
    struct HuggingFaceDefaults {
        var imageSize: Int
        var patchSize: Int
        var contextLength: Int
        /// OWL pools the text tower at argmax(input_ids), whatever `eos_token_id` says: with CLIP's
        /// vocabulary the end token, the largest id. CLIP reads `text_config.eos_token_id`.
        var endTokenIsLargestID = false
    }

    /// The two towers of a Hugging Face `CLIPModel`-style config (`text_config`, `vision_config`,
    /// `projection_dim`), read the same way for CLIP and OWL-ViT/OWLv2: every field an integer or
    /// number in its sane range (`ConfigLimits`), named in the error otherwise; 3 channels only.
    static func huggingFaceTowers(_ root: [String: Any], file url: URL, defaults d: HuggingFaceDefaults) throws -> CLIPConfig {
        let t = root["text_config"] as? [String: Any] ?? [:]
        let v = root["vision_config"] as? [String: Any] ?? [:]
        let f = ConfigFields(file: url)
        let L = ConfigLimits.self
        let textWidth = try f.int(t, "hidden_size", 512, "text_config.", in: L.width)
        let visionWidth = try f.int(v, "hidden_size", 768, "vision_config.", in: L.width)
        let vocab = try f.int(t, "vocab_size", 49408, "text_config.", in: L.vocabulary)
        var eos = vocab - 1
        if !d.endTokenIsLargestID {
            eos = try f.int(t, "eos_token_id", 49407, "text_config.", in: 0...(vocab - 1))
            // transformers pools at argmax(input_ids) when eos_token_id == 2 (configs older than 4.31);
            // with CLIP's vocabulary that is the first 49407, the largest id.
            if eos == 2 { eos = vocab - 1 }
        }
        let imageSize = try f.int(v, "image_size", d.imageSize, "vision_config.", in: L.imageSize)
        _ = try f.double(root, "logit_scale_init_value", 2.6592, "", in: -L.logitScale...L.logitScale)
        let config = CLIPConfig(
            imageSize: imageSize,
            patchSize: try f.int(v, "patch_size", d.patchSize, "vision_config.", in: 1...imageSize),
            vision: TowerConfig(
                width: visionWidth,
                layers: try f.int(v, "num_hidden_layers", 12, "vision_config.", in: L.layers),
                heads: try f.int(v, "num_attention_heads", 12, "vision_config.", in: 1...visionWidth),
                mlpWidth: try f.int(v, "intermediate_size", 3072, "vision_config.", in: L.mlpWidth),
                activation: try f.string(v, "hidden_act", "quick_gelu", "vision_config."),
                layerNormEps: Float(try f.double(v, "layer_norm_eps", 1e-5, "vision_config.", in: L.epsilon))),
            vocabSize: vocab,
            contextLength: try f.int(t, "max_position_embeddings", d.contextLength, "text_config.", in: L.context),
            text: TowerConfig(
                width: textWidth,
                layers: try f.int(t, "num_hidden_layers", 12, "text_config.", in: L.layers),
                heads: try f.int(t, "num_attention_heads", 8, "text_config.", in: 1...textWidth),
                mlpWidth: try f.int(t, "intermediate_size", 2048, "text_config.", in: L.mlpWidth),
                activation: try f.string(t, "hidden_act", "quick_gelu", "text_config."),
                layerNormEps: Float(try f.double(t, "layer_norm_eps", 1e-5, "text_config.", in: L.epsilon))),
            endTokenID: eos,
            embedDim: try f.int(root, "projection_dim", 512, "", in: L.width))
        // An integer, never read loosely: 2.5, "12", [1] or true are errors naming the field.
        let channels = try f.int(v, "num_channels", 3, "vision_config.", in: 1...65_536)
        if channels != 3 {
            throw ModelError.unsupportedFeature(file: url, field: "vision_config.num_channels",
                                                reason: "only 3-channel images are supported, got \(channels)")
        }
        try config.validate(file: url)
        return config
    }
}

// MARK: - OpenCLIP open_clip_config.json

extension CLIPConfig {
    /// Reads OpenCLIP's `open_clip_config.json` (`model_cfg`), for the standard ViT + text transformer CLIP.
    public static func openCLIP(_ url: URL) throws -> CLIPConfig {
        let root = try readJSONObject(url)
        let model = root["model_cfg"] as? [String: Any] ?? root
        let v = model["vision_cfg"] as? [String: Any] ?? [:]
        let t = model["text_cfg"] as? [String: Any] ?? [:]
        let f = ConfigFields(file: url)
        // Features of other OpenCLIP towers that this ViT does not implement: refuse rather than mis-compute.
        for key in ["timm_model_name", "attentional_pool", "attn_pooler_queries", "ls_init_value", "patch_dropout_unused"]
        where v[key] != nil && !(v[key] is NSNull) && !(v[key] as? Bool == false) {
            throw ModelError.unsupportedFeature(file: url, field: "vision_cfg.\(key)", reason: "only the standard CLIP ViT is implemented")
        }
        if let pool = v["pool_type"] as? String, pool != "tok" {
            throw ModelError.unsupportedFeature(file: url, field: "vision_cfg.pool_type", reason: "\"\(pool)\"; only \"tok\" (class token) is implemented")
        }
        if v["no_ln_pre"] as? Bool == true || v["final_ln_after_pool"] as? Bool == true {
            throw ModelError.unsupportedFeature(file: url, field: "vision_cfg.no_ln_pre/final_ln_after_pool", reason: "only the standard CLIP ViT is implemented")
        }
        if let layers = v["layers"], layers is [Any] {
            throw ModelError.unsupportedFeature(file: url, field: "vision_cfg.layers", reason: "ResNet towers are not implemented, only ViT")
        }
        for key in ["hf_model_name", "ls_init_value"] where t[key] != nil && !(t[key] is NSNull) {
            throw ModelError.unsupportedFeature(file: url, field: "text_cfg.\(key)", reason: "only the standard CLIP text transformer is implemented")
        }
        if let pool = t["pool_type"] as? String, pool != "argmax" && pool != "eos" {
            throw ModelError.unsupportedFeature(file: url, field: "text_cfg.pool_type", reason: "\"\(pool)\"; only argmax/eos pooling is implemented")
        }
        if t["embed_cls"] as? Bool == true || t["proj_bias"] as? Bool == true || t["no_causal_mask"] as? Bool == true {
            throw ModelError.unsupportedFeature(file: url, field: "text_cfg.embed_cls/proj_bias/no_causal_mask", reason: "only the standard CLIP text transformer is implemented")
        }
        let activation = try f.bool(model, "quick_gelu", false, "") ? "quick_gelu" : "gelu"
        let L = ConfigLimits.self
        let visionWidth = try f.int(v, "width", 768, "vision_cfg.", in: L.width)
        let headWidth = try f.int(v, "head_width", 64, "vision_cfg.", in: 1...visionWidth)
        let visionMLP = try f.mlpWidth(v, "vision_cfg.", width: visionWidth)
        let textWidth = try f.int(t, "width", 512, "text_cfg.", in: L.width)
        let textMLP = try f.mlpWidth(t, "text_cfg.", width: textWidth)
        guard visionWidth % headWidth == 0 else {
            throw ModelError.badConfigField(file: url, field: "vision_cfg.head_width", reason: "(\(headWidth)) must divide the width (\(visionWidth))")
        }
        let vocab = try f.int(t, "vocab_size", 49408, "text_cfg.", in: L.vocabulary)
        let imageSize = try f.int(v, "image_size", 224, "vision_cfg.", in: L.imageSize)
        _ = try f.double(model, "init_logit_scale", 2.6592, "", in: -L.logitScale...L.logitScale)
        let config = CLIPConfig(
            imageSize: imageSize,
            patchSize: try f.int(v, "patch_size", 16, "vision_cfg.", in: 1...imageSize),
            vision: TowerConfig(width: visionWidth, layers: try f.int(v, "layers", 12, "vision_cfg.", in: L.layers),
                                heads: visionWidth / headWidth, mlpWidth: visionMLP,
                                activation: activation, layerNormEps: 1e-5),
            vocabSize: vocab,
            contextLength: try f.int(t, "context_length", 77, "text_cfg.", in: L.context),
            text: TowerConfig(width: textWidth, layers: try f.int(t, "layers", 12, "text_cfg.", in: L.layers),
                              heads: try f.int(t, "heads", 8, "text_cfg.", in: 1...textWidth), mlpWidth: textMLP,
                              activation: activation, layerNormEps: 1e-5),
            endTokenID: try f.int(t, "eos_id", vocab - 1, "text_cfg.", in: 0...(vocab - 1)),
            embedDim: try f.int(model, "embed_dim", 512, "", in: L.width))
        try config.validate(file: url)
        return config
    }
}

// MARK: - JSON helpers

func readJSONObject(_ url: URL) throws -> [String: Any] {
    let data = try ModelFiles.readConfig(url)
    let object: Any
    do { object = try JSONSerialization.jsonObject(with: data) } catch {
        throw ModelError.unreadableConfig(url, reason: JSONDiagnostics.invalidJSON(error, data))
    }
    guard let dict = object as? [String: Any] else {
        throw ModelError.unreadableConfig(url, reason: "the top level is not a JSON object")
    }
    return dict
}

/// The sizes a config may ask for. Each is far above any published CLIP (ViT-bigG: width 1,664,
/// 48 layers, MLP 8,192; vocabularies of 250k) and far below what would exhaust memory before
/// the checkpoint is compared with it: a number outside is refused with its field named.
enum ConfigLimits {
    static let layers = 1...1024
    static let width = 1...65_536
    static let mlpWidth = 1...262_144
    static let mlpRatio = 0.0...64.0  // exclusive of 0, checked separately
    static let imageSize = 1...16_384
    static let context = 2...65_536
    static let vocabulary = 1...16_777_216
    /// LayerNorm epsilon: positive and small.
    static let epsilon = 1e-30...0.1
    /// `logit_scale` is a log: exp(88.7) overflows float32.
    static let logitScale = 88.0
}

/// Typed reads of optional config fields, with errors that name the field.
struct ConfigFields {
    let file: URL

    /// An integer field within `range` (the fallback is used when the field is absent).
    /// A boolean, string, list or fraction is an error, not a number.
    func int(_ d: [String: Any], _ key: String, _ fallback: Int, _ prefix: String, in range: ClosedRange<Int>) throws -> Int {
        guard let value = d[key], !(value is NSNull) else { return fallback }
        guard !JSONDiagnostics.isBool(value), let n = value as? NSNumber, let i = Int(exactly: n.doubleValue) else {
            throw ModelError.badConfigField(file: file, field: prefix + key, reason: "must be an integer, got \(JSONDiagnostics.jsonText(value))")
        }
        guard range.contains(i) else {
            throw ModelError.badConfigField(file: file, field: prefix + key, reason: "is \(i), outside \(range.lowerBound)...\(range.upperBound)")
        }
        return i
    }

    /// A finite number within `range`.
    func double(_ d: [String: Any], _ key: String, _ fallback: Double, _ prefix: String, in range: ClosedRange<Double>) throws -> Double {
        guard let value = d[key], !(value is NSNull) else { return fallback }
        guard !JSONDiagnostics.isBool(value), let n = value as? NSNumber else {
            throw ModelError.badConfigField(file: file, field: prefix + key, reason: "must be a number, got \(JSONDiagnostics.jsonText(value))")
        }
        let x = n.doubleValue
        guard x.isFinite, range.contains(x) else {
            throw ModelError.badConfigField(file: file, field: prefix + key, reason: "is \(x), outside \(range.lowerBound)...\(range.upperBound)")
        }
        return x
    }

    /// OpenCLIP's MLP width, `int(mlp_ratio * width)`, with the ratio finite and in range.
    func mlpWidth(_ d: [String: Any], _ prefix: String, width: Int) throws -> Int {
        let ratio = try double(d, "mlp_ratio", 4.0, prefix, in: ConfigLimits.mlpRatio)
        let mlp = Int(ratio * Double(width))
        guard ratio > 0, ConfigLimits.mlpWidth.contains(mlp) else {
            throw ModelError.badConfigField(file: file, field: prefix + "mlp_ratio",
                                            reason: "is \(ratio): an MLP of \(mlp) for width \(width) is outside \(ConfigLimits.mlpWidth)")
        }
        return mlp
    }

    func string(_ d: [String: Any], _ key: String, _ fallback: String, _ prefix: String) throws -> String {
        guard let value = d[key], !(value is NSNull) else { return fallback }
        if let s = value as? String { return s }
        throw ModelError.badConfigField(file: file, field: prefix + key, reason: "must be a string, got \(JSONDiagnostics.jsonText(value))")
    }

    /// A JSON `true` or `false`; anything else ("x", 1, a list) is an error naming the field.
    func bool(_ d: [String: Any], _ key: String, _ fallback: Bool, _ prefix: String) throws -> Bool {
        guard let value = d[key], !(value is NSNull) else { return fallback }
        if JSONDiagnostics.isBool(value), let b = value as? NSNumber { return b.boolValue }
        throw ModelError.badConfigField(file: file, field: prefix + key, reason: "must be true or false, got \(JSONDiagnostics.jsonText(value))")
    }
}
