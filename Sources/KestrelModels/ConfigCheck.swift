import Foundation

/// Compares the sizes in a config with the shapes the checkpoint holds, before any tensor is
/// read or any block is built, so that a wrong config is named by its field (and the tensor
/// that contradicts it) rather than found by a failed allocation or a misshapen tensor.
struct ConfigCheck {
    let config: CLIPConfig
    let reader: WeightReader
    let configURL: URL

    /// One size: the config field (per layout), its value, and where the checkpoint says it.
    private struct Size {
        let huggingFace: String, openCLIP: String
        let value: Int
        let tensor: String  // our name
        let block: Int?
        let dimension: (CheckpointLayout) -> Int  // index into the stored shape
    }

    func run() throws {
        let c = config
        let sizes: [Size] = [
            Size(huggingFace: "vision_config.hidden_size", openCLIP: "vision_cfg.width", value: c.vision.width,
                 tensor: "vision.patch", block: nil, dimension: { _ in 0 }),
            Size(huggingFace: "vision_config.patch_size", openCLIP: "vision_cfg.patch_size", value: c.patchSize,
                 tensor: "vision.patch", block: nil, dimension: { _ in 2 }),
            Size(huggingFace: "vision_config.image_size", openCLIP: "vision_cfg.image_size", value: c.visionTokens,
                 tensor: "vision.position", block: nil, dimension: { _ in 0 }),
            Size(huggingFace: "vision_config.intermediate_size", openCLIP: "vision_cfg.mlp_ratio", value: c.vision.mlpWidth,
                 tensor: "vision.block{i}.fc1.weight", block: 0, dimension: { _ in 0 }),
            Size(huggingFace: "text_config.hidden_size", openCLIP: "text_cfg.width", value: c.text.width,
                 tensor: "text.token", block: nil, dimension: { _ in 1 }),
            Size(huggingFace: "text_config.vocab_size", openCLIP: "text_cfg.vocab_size", value: c.vocabSize,
                 tensor: "text.token", block: nil, dimension: { _ in 0 }),
            Size(huggingFace: "text_config.max_position_embeddings", openCLIP: "text_cfg.context_length", value: c.contextLength,
                 tensor: "text.position", block: nil, dimension: { _ in 0 }),
            Size(huggingFace: "text_config.intermediate_size", openCLIP: "text_cfg.mlp_ratio", value: c.text.mlpWidth,
                 tensor: "text.block{i}.fc1.weight", block: 0, dimension: { _ in 0 }),
            Size(huggingFace: "projection_dim", openCLIP: "embed_dim", value: c.embedDim,
                 tensor: "vision.projection", block: nil, dimension: { $0 == .huggingFace ? 0 : 1 }),  // OpenCLIP stores [W, E]
        ]
        let layout = reader.layout
        for s in sizes {
            // A missing tensor is reported, with its name, when the towers read it.
            guard let (key, shape) = reader.storedShape(s.tensor, block: s.block) else { continue }
            let d = s.dimension(layout)
            guard d < shape.count, shape[d] != s.value else { continue }
            let field = layout == .huggingFace ? s.huggingFace : s.openCLIP
            let what = s.tensor == "vision.position"
                ? "gives \(s.value) image positions ((image_size / patch_size)^2 + 1)"
                : field.hasSuffix("mlp_ratio") ? "gives an MLP of \(s.value)" : "is \(s.value)"
            var needed = shape
            needed[d] = s.value
            throw ModelError.badConfigField(file: configURL, field: field,
                                            reason: "\(what), but \(reader.file.url.lastPathComponent) holds \(key) of shape \(shape) (the config needs \(needed)); is the config for this checkpoint?")
        }
        // The depth sizes the list of blocks: no more than the checkpoint holds.
        for (tower, layers) in [("vision", c.vision.layers), ("text", c.text.layers)] {
            let held = reader.blockCount(tower)
            if layers > held {
                let field = layout == .huggingFace ? "\(tower)_config.num_hidden_layers" : "\(tower == "vision" ? "vision_cfg" : "text_cfg").layers"
                throw ModelError.badConfigField(file: configURL, field: field,
                                                reason: "is \(layers) but \(reader.file.url.lastPathComponent) holds \(held) \(tower) layers")
            }
        }
    }
}
