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
        let clip = try CLIPConfig.huggingFaceTowers(root, file: url, defaults: CLIPConfig.HuggingFaceDefaults(
            imageSize: kind == .owlvit ? 768 : 960, patchSize: kind == .owlvit ? 32 : 16, contextLength: 16,
            // transformers pools the text tower at argmax(input_ids): with CLIP's vocabulary the
            // end token, the largest id. Kestrel pools at the first end token, which is the same row.
            endTokenIsLargestID: true))
        // The class head projects patches to the text width and compares them with the projected
        // text embedding: the two widths must agree (they do in every published OWL checkpoint).
        if clip.embedDim != clip.text.width {
            throw ModelError.badConfigField(file: url, field: "projection_dim",
                                            reason: "is \(clip.embedDim) but text_config.hidden_size is \(clip.text.width); OWL's class head needs them equal")
        }
        return OWLConfig(kind: kind, clip: clip)
    }
}
