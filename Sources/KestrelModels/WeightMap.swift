import Foundation
import KestrelKernels
import KestrelTokenizer

/// The two checkpoint layouts a model folder can have.
public enum CheckpointLayout: String, Sendable, Codable {
    case huggingFace = "huggingface"
    case openCLIP = "openclip"
}

extension CheckpointLayout {
    /// The text cleaning of the layout's reference tokenizer: transformers' for Hugging Face
    /// folders, open_clip's (ftfy, HTML unescaping) for OpenCLIP folders.
    public var textNormalization: TextNormalization { self == .huggingFace ? .huggingFace : .openAI }
}

/// How a checkpoint tensor becomes the tensor our model uses.
enum WeightTransform: Sendable {
    case asIs
    /// OpenCLIP stores projections as `[in, out]` (used as `x @ proj`); we keep Linear's `[out, in]`.
    case transpose
    /// A slice of rows: OpenCLIP fuses q, k, v into `in_proj_weight [3W, W]` / `in_proj_bias [3W]`.
    case rows(part: Int, of: Int)
}

/// One row of the key mapping: our name -> the Hugging Face key, the OpenCLIP key, and the transform
/// the OpenCLIP tensor needs. `{i}` stands for the block index. A nil Hugging Face key: the layout
/// does not store the tensor as one (the fused `qkv`, which the model assembles from q, k, v).
struct WeightRule: Sendable {
    let name: String
    let huggingFace: String?
    let openCLIP: String
    let openCLIPTransform: WeightTransform
}

/// The checkpoint key mapping, as a table (Hugging Face `CLIPModel` vs OpenCLIP / OpenAI naming).
let weightRules: [WeightRule] = {
    var rules: [WeightRule] = [
        // name                               Hugging Face                                           OpenCLIP                 transform
        .init(name: "vision.patch",      huggingFace: "vision_model.embeddings.patch_embedding.weight",    openCLIP: "visual.conv1.weight",         openCLIPTransform: .asIs),
        .init(name: "vision.class",      huggingFace: "vision_model.embeddings.class_embedding",           openCLIP: "visual.class_embedding",      openCLIPTransform: .asIs),
        .init(name: "vision.position",   huggingFace: "vision_model.embeddings.position_embedding.weight", openCLIP: "visual.positional_embedding", openCLIPTransform: .asIs),
        .init(name: "vision.pre.weight", huggingFace: "vision_model.pre_layrnorm.weight",                  openCLIP: "visual.ln_pre.weight",        openCLIPTransform: .asIs),
        .init(name: "vision.pre.bias",   huggingFace: "vision_model.pre_layrnorm.bias",                    openCLIP: "visual.ln_pre.bias",          openCLIPTransform: .asIs),
        .init(name: "vision.post.weight", huggingFace: "vision_model.post_layernorm.weight",               openCLIP: "visual.ln_post.weight",       openCLIPTransform: .asIs),
        .init(name: "vision.post.bias",  huggingFace: "vision_model.post_layernorm.bias",                  openCLIP: "visual.ln_post.bias",         openCLIPTransform: .asIs),
        .init(name: "vision.projection", huggingFace: "visual_projection.weight",                          openCLIP: "visual.proj",                 openCLIPTransform: .transpose),
        .init(name: "text.token",        huggingFace: "text_model.embeddings.token_embedding.weight",      openCLIP: "token_embedding.weight",      openCLIPTransform: .asIs),
        .init(name: "text.position",     huggingFace: "text_model.embeddings.position_embedding.weight",   openCLIP: "positional_embedding",        openCLIPTransform: .asIs),
        .init(name: "text.final.weight", huggingFace: "text_model.final_layer_norm.weight",                openCLIP: "ln_final.weight",             openCLIPTransform: .asIs),
        .init(name: "text.final.bias",   huggingFace: "text_model.final_layer_norm.bias",                  openCLIP: "ln_final.bias",               openCLIPTransform: .asIs),
        .init(name: "text.projection",   huggingFace: "text_projection.weight",                            openCLIP: "text_projection",             openCLIPTransform: .transpose),
        .init(name: "logit_scale",       huggingFace: "logit_scale",                                       openCLIP: "logit_scale",                 openCLIPTransform: .asIs),
    ]
    // Transformer blocks: the same table for both towers, under each tower's prefix.
    let block: [(String, String?, String, WeightTransform)] = [
        ("norm1.weight", "layer_norm1.weight",       "ln_1.weight",            .asIs),
        ("norm1.bias",   "layer_norm1.bias",         "ln_1.bias",              .asIs),
        ("q.weight",     "self_attn.q_proj.weight",  "attn.in_proj_weight",    .rows(part: 0, of: 3)),
        ("q.bias",       "self_attn.q_proj.bias",    "attn.in_proj_bias",      .rows(part: 0, of: 3)),
        ("k.weight",     "self_attn.k_proj.weight",  "attn.in_proj_weight",    .rows(part: 1, of: 3)),
        ("k.bias",       "self_attn.k_proj.bias",    "attn.in_proj_bias",      .rows(part: 1, of: 3)),
        ("v.weight",     "self_attn.v_proj.weight",  "attn.in_proj_weight",    .rows(part: 2, of: 3)),
        ("v.bias",       "self_attn.v_proj.bias",    "attn.in_proj_bias",      .rows(part: 2, of: 3)),
        // q | k | v as one [3W, W] product: OpenCLIP stores it fused; Hugging Face as the three above.
        ("qkv.weight",   nil,                        "attn.in_proj_weight",    .asIs),
        ("qkv.bias",     nil,                        "attn.in_proj_bias",      .asIs),
        ("out.weight",   "self_attn.out_proj.weight", "attn.out_proj.weight",  .asIs),
        ("out.bias",     "self_attn.out_proj.bias",  "attn.out_proj.bias",     .asIs),
        ("norm2.weight", "layer_norm2.weight",       "ln_2.weight",            .asIs),
        ("norm2.bias",   "layer_norm2.bias",         "ln_2.bias",              .asIs),
        ("fc1.weight",   "mlp.fc1.weight",           "mlp.c_fc.weight",        .asIs),
        ("fc1.bias",     "mlp.fc1.bias",             "mlp.c_fc.bias",          .asIs),
        ("fc2.weight",   "mlp.fc2.weight",           "mlp.c_proj.weight",      .asIs),
        ("fc2.bias",     "mlp.fc2.bias",             "mlp.c_proj.bias",        .asIs),
    ]
    let towers = [("vision", "vision_model.encoder.layers.{i}.", "visual.transformer.resblocks.{i}."),
                  ("text", "text_model.encoder.layers.{i}.", "transformer.resblocks.{i}.")]
    for (tower, hfPrefix, ocPrefix) in towers {
        for (name, hf, oc, transform) in block {
            rules.append(.init(name: "\(tower).block{i}.\(name)", huggingFace: hf.map { hfPrefix + $0 },
                               openCLIP: ocPrefix + oc, openCLIPTransform: transform))
        }
    }
    return rules
}()

/// Checkpoint entries that are buffers, not parameters: present in some files, never used.
let ignoredCheckpointKeys: Set<String> = [
    "text_model.embeddings.position_ids", "vision_model.embeddings.position_ids", "attn_mask",
]

/// Reads tensors by our names from a checkpoint in either layout, checking every shape,
/// and remembers which checkpoint keys it used (so leftovers can be reported).
final class WeightReader {
    let file: SafeTensorsFile
    let layout: CheckpointLayout
    private let rules: [String: WeightRule]
    private(set) var usedKeys: Set<String> = []
    private(set) var parameterCount = 0

    /// `table`: the key mapping (default: CLIP's `weightRules`; OWL-ViT/OWLv2 pass `owlWeightRules`).
    init(file: SafeTensorsFile, layout: CheckpointLayout, rules table: [WeightRule] = weightRules) {
        self.file = file
        self.layout = layout
        self.rules = Dictionary(uniqueKeysWithValues: table.map { ($0.name, $0) })
    }

    /// The checkpoint key of our tensor `name` in this layout (nil: not stored as one tensor).
    private func key(_ rule: WeightRule, block: Int?) -> String? {
        guard let raw = layout == .huggingFace ? rule.huggingFace : rule.openCLIP else { return nil }
        return block.map { raw.replacingOccurrences(of: "{i}", with: String($0)) } ?? raw
    }

    /// Our tensor `name` (with `{i}` = `block`), which must come out with `shape`. The file's pages
    /// holding it are released once read (`SafeTensorsFile.releasePages`): the caller keeps the
    /// only copy, so loading never holds the checkpoint twice.
    func tensor(_ name: String, block: Int? = nil, shape: [Int]) throws -> Tensor {
        guard let rule = rules[name] else { preconditionFailure("no weight rule named \(name)") }
        guard let key = key(rule, block: block) else { preconditionFailure("\(name) is not one tensor in a \(layout) checkpoint") }
        let transform = layout == .huggingFace ? .asIs : rule.openCLIPTransform
        // The shape the checkpoint must hold for `shape` to come out of the transform.
        let stored: [Int]
        switch transform {
        case .asIs: stored = shape
        case .transpose: stored = [shape[1], shape[0]]
        case .rows(_, let parts): stored = [shape[0] * parts] + shape.dropFirst()
        }
        guard let entry = file.entries[key] else { throw ModelError.missingTensor(file: file.url, name: key) }
        // A scalar may be stored as [] or [1].
        let matches = entry.shape == stored || (stored.reduce(1, *) == 1 && entry.shape.reduce(1, *) == 1 && entry.shape.count <= 1)
        guard matches else {
            throw ModelError.misshapenTensor(file: file.url, name: key, expected: stored, found: entry.shape)
        }
        let values = try file.floats(key)
        file.releasePages(of: key)
        // NaN or an infinity in the weights would turn every embedding into NaN, silently.
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw ModelError.nonFiniteTensor(file: file.url, name: key, index: bad, value: values[bad])
        }
        if !usedKeys.contains(key) { parameterCount += values.count }
        usedKeys.insert(key)
        switch transform {
        case .asIs:
            return Tensor(shape: shape, data: values)
        case .transpose:
            let (r, c) = (stored[0], stored[1])
            var out = [Float](repeating: 0, count: values.count)
            for i in 0..<r { for j in 0..<c { out[j * r + i] = values[i * c + j] } }
            return Tensor(shape: shape, data: out)
        case .rows(let part, _):
            let n = shape.reduce(1, *)
            return Tensor(shape: shape, data: Array(values[(part * n)..<((part + 1) * n)]))
        }
    }

    /// The checkpoint key and stored shape of our tensor `name`, or nil when it is absent.
    func storedShape(_ name: String, block: Int? = nil) -> (key: String, shape: [Int])? {
        guard let rule = rules[name], let key = key(rule, block: block) else { return nil }
        return file.entries[key].map { (key, $0.shape) }
    }

    /// How many transformer blocks of `tower` ("vision" or "text") the checkpoint holds:
    /// blocks 0, 1, ... whose first LayerNorm weight is present.
    func blockCount(_ tower: String) -> Int {
        guard let rule = rules["\(tower).block{i}.norm1.weight"], let raw = layout == .huggingFace ? rule.huggingFace : rule.openCLIP
        else { return 0 }
        var n = 0
        while n < file.entries.count, file.entries[raw.replacingOccurrences(of: "{i}", with: String(n))] != nil { n += 1 }
        return n
    }

    /// Checkpoint keys that the architecture did not use (buffers excluded).
    var unusedKeys: [String] {
        file.names.filter { !usedKeys.contains($0) && !ignoredCheckpointKeys.contains($0) }
    }
}
