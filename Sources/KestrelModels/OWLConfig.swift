import Foundation

/// Which OWL detector a folder holds: `config.json` "model_type".
public enum OWLKind: String, Sendable, Codable {
    /// OWL-ViT (Minderer et al. 2022, "Simple Open-Vocabulary Object Detection with Vision Transformers").
    case owlvit
    /// OWLv2 (Minderer et al. 2023, "Scaling Open-Vocabulary Object Detection"): adds the objectness head.
    case owlv2
}

/// The architecture of an OWL-ViT / OWLv2 checkpoint (transformers' `OwlViTConfig` / `Owlv2Config`):
/// the two CLIP towers (`clip`; the text tower's context is `text_config.max_position_embeddings`,
/// 16 in the published checkpoints) plus the detection heads, whose sizes follow the towers:
/// box head W -> W -> W -> 4, class head W -> text width, objectness head (OWLv2) W -> W -> W -> 1,
/// W the vision width.
public struct OWLConfig: Sendable, Equatable {
    public var kind: OWLKind
    public var clip: CLIPConfig
    /// Patches per side of the (square) input: image_size / patch_size.
    public var gridSize: Int { clip.patchesPerSide }
    /// Patches, one box and one score per patch: gridSize^2.
    public var patches: Int { gridSize * gridSize }

    /// Reads `config.json` of an OWL folder. Missing fields take transformers' defaults for the kind
    /// (OWL-ViT: 768 px, patch 32; OWLv2: 960 px, patch 16; text context 16; quick_gelu).
    /// Throws `ModelError.badConfigField` naming the field (a wrong `model_type`, sizes that do not fit).
    public static func load(_ url: URL) throws -> OWLConfig {
        let root = try readJSONObject(url)
        let f = ConfigFields(file: url)
        let type = try f.string(root, "model_type", "", "")
        guard let kind = OWLKind(rawValue: type) else {
            throw ModelError.badConfigField(file: url, field: "model_type", reason: "is \"\(type)\"; an OWL folder says \"owlvit\" or \"owlv2\"")
        }
        let t = root["text_config"] as? [String: Any] ?? [:]
        let v = root["vision_config"] as? [String: Any] ?? [:]
        let L = ConfigLimits.self
        let textWidth = try f.int(t, "hidden_size", 512, "text_config.", in: L.width)
        let visionWidth = try f.int(v, "hidden_size", 768, "vision_config.", in: L.width)
        let vocab = try f.int(t, "vocab_size", 49408, "text_config.", in: L.vocabulary)
        let imageSize = try f.int(v, "image_size", kind == .owlvit ? 768 : 960, "vision_config.", in: L.imageSize)
        _ = try f.double(root, "logit_scale_init_value", 2.6592, "", in: -L.logitScale...L.logitScale)
        let clip = CLIPConfig(
            imageSize: imageSize,
            patchSize: try f.int(v, "patch_size", kind == .owlvit ? 32 : 16, "vision_config.", in: 1...imageSize),
            vision: TowerConfig(
                width: visionWidth,
                layers: try f.int(v, "num_hidden_layers", 12, "vision_config.", in: L.layers),
                heads: try f.int(v, "num_attention_heads", 12, "vision_config.", in: 1...visionWidth),
                mlpWidth: try f.int(v, "intermediate_size", 3072, "vision_config.", in: L.mlpWidth),
                activation: try f.string(v, "hidden_act", "quick_gelu", "vision_config."),
                layerNormEps: Float(try f.double(v, "layer_norm_eps", 1e-5, "vision_config.", in: L.epsilon))),
            vocabSize: vocab,
            contextLength: try f.int(t, "max_position_embeddings", 16, "text_config.", in: L.context),
            text: TowerConfig(
                width: textWidth,
                layers: try f.int(t, "num_hidden_layers", 12, "text_config.", in: L.layers),
                heads: try f.int(t, "num_attention_heads", 8, "text_config.", in: 1...textWidth),
                mlpWidth: try f.int(t, "intermediate_size", 2048, "text_config.", in: L.mlpWidth),
                activation: try f.string(t, "hidden_act", "quick_gelu", "text_config."),
                layerNormEps: Float(try f.double(t, "layer_norm_eps", 1e-5, "text_config.", in: L.epsilon))),
            // transformers pools the text tower at argmax(input_ids): with CLIP's vocabulary the
            // end token, the largest id. Kestrel pools at the first end token, which is the same row.
            endTokenID: vocab - 1,
            embedDim: try f.int(root, "projection_dim", 512, "", in: L.width))
        let channels = try f.int(v, "num_channels", 3, "vision_config.", in: 1...65_536)
        if channels != 3 {
            throw ModelError.unsupportedFeature(file: url, field: "vision_config.num_channels",
                                                reason: "only 3-channel images are supported, got \(channels)")
        }
        try clip.validate(file: url)
        // The class head projects patches to the text width and compares them with the projected
        // text embedding: the two widths must agree (they do in every published OWL checkpoint).
        if clip.embedDim != clip.text.width {
            throw ModelError.badConfigField(file: url, field: "projection_dim",
                                            reason: "is \(clip.embedDim) but text_config.hidden_size is \(clip.text.width); OWL's class head needs them equal")
        }
        return OWLConfig(kind: kind, clip: clip)
    }
}
