import Foundation

/// The checkpoint key mapping of `OwlViTForObjectDetection` / `Owlv2ForObjectDetection`, as a table:
/// the CLIP towers are CLIP's `weightRules` under the `owlvit.` / `owlv2.` prefix (the vision
/// tower's first LayerNorm is spelled `pre_layernorm`, not CLIPModel's `pre_layrnorm`), then the heads.
/// Hugging Face layout only (OWL checkpoints exist in no other).
func owlWeightRules(_ kind: OWLKind) -> [WeightRule] {
    let prefix = kind.rawValue + "."
    var rules = weightRules.map { r -> WeightRule in
        let hf = r.huggingFace.map { prefix + $0.replacingOccurrences(of: "pre_layrnorm", with: "pre_layernorm") }
        return WeightRule(name: r.name, huggingFace: hf, openCLIP: r.openCLIP, openCLIPTransform: r.openCLIPTransform)
    }
    // name                     Hugging Face key (no prefix: the heads sit beside the towers)
    var heads: [(String, String)] = [
        ("owl.norm.weight",       "layer_norm.weight"),
        ("owl.norm.bias",         "layer_norm.bias"),
        ("owl.class.dense.weight", "class_head.dense0.weight"),
        ("owl.class.dense.bias",  "class_head.dense0.bias"),
        ("owl.class.shift.weight", "class_head.logit_shift.weight"),
        ("owl.class.shift.bias",  "class_head.logit_shift.bias"),
        ("owl.class.scale.weight", "class_head.logit_scale.weight"),
        ("owl.class.scale.bias",  "class_head.logit_scale.bias"),
    ]
    var mlps = ["box"]
    if kind == .owlv2 { mlps.append("objectness") }
    for head in mlps {
        for layer in 0..<3 {
            for part in ["weight", "bias"] {
                heads.append(("owl.\(head).dense\(layer).\(part)", "\(head)_head.dense\(layer).\(part)"))
            }
        }
    }
    rules += heads.map { WeightRule(name: $0.0, huggingFace: $0.1, openCLIP: "", openCLIPTransform: .asIs) }
    return rules
}

extension OWLKind {
    /// Every tensor key an OWL checkpoint of `config` holds (Hugging Face naming), in table order:
    /// what `OWLModel` reads. For tools and tests that build or check OWL folders.
    public func checkpointKeys(_ config: CLIPConfig) -> [String] {
        owlWeightRules(self).flatMap { rule -> [String] in
            guard let key = rule.huggingFace else { return [] }
            guard key.contains("{i}") else { return [key] }
            let layers = rule.name.hasPrefix("vision.") ? config.vision.layers : config.text.layers
            return (0..<layers).map { key.replacingOccurrences(of: "{i}", with: String($0)) }
        }
    }
}
