import Foundation
import KestrelEngine

/// `kestrel-bench make-model --out DIR`: writes an OpenCLIP-layout model folder in the ViT-B/32
/// shape (image 224, patch 32, width 768, 12 layers; text width 512, 12 layers, 8 heads; 512-d
/// embeddings) with random weights, so the model bench can run at a realistic size without
/// Python or a download. The tokenizer is the bundled CLIP vocabulary. F16 on disk (about 300 MB).
func runMakeModel(args: [String]) throws {
    guard let i = args.firstIndex(of: "--out"), i + 1 < args.count else {
        print("usage: kestrel-bench make-model --out DIR"); return
    }
    let dir = URL(fileURLWithPath: args[i + 1])
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let (image, patch, vw, vLayers, tw, tLayers, embed, context, vocab) = (224, 32, 768, 12, 512, 12, 512, 77, 49408)
    let config = """
        {"model_cfg": {"embed_dim": \(embed), "quick_gelu": true,
          "vision_cfg": {"image_size": \(image), "layers": \(vLayers), "width": \(vw), "patch_size": \(patch), "head_width": 64, "mlp_ratio": 4.0},
          "text_cfg": {"context_length": \(context), "vocab_size": \(vocab), "width": \(tw), "heads": 8, "layers": \(tLayers), "mlp_ratio": 4.0}}}
        """
    try Data(config.utf8).write(to: dir.appendingPathComponent("open_clip_config.json"))

    var rng = BenchRandom(seed: 7)
    var items: [SafeTensorsWriter.Item] = []
    func add(_ name: String, _ shape: [Int], scale: Float = 0.02, constant: Float? = nil) {
        let n = shape.reduce(1, *)
        let values = constant.map { [Float](repeating: $0, count: n) } ?? (0..<n).map { _ in Float(2 * rng.uniform() - 1) * scale }
        items.append(.init(name, shape: shape, values: values, dtype: .f16))
    }
    func blocks(_ prefix: String, width w: Int, layers: Int) {
        for l in 0..<layers {
            let p = "\(prefix)\(l)."
            add(p + "ln_1.weight", [w], constant: 1); add(p + "ln_1.bias", [w], constant: 0)
            add(p + "attn.in_proj_weight", [3 * w, w]); add(p + "attn.in_proj_bias", [3 * w])
            add(p + "attn.out_proj.weight", [w, w]); add(p + "attn.out_proj.bias", [w])
            add(p + "ln_2.weight", [w], constant: 1); add(p + "ln_2.bias", [w], constant: 0)
            add(p + "mlp.c_fc.weight", [4 * w, w]); add(p + "mlp.c_fc.bias", [4 * w])
            add(p + "mlp.c_proj.weight", [w, 4 * w]); add(p + "mlp.c_proj.bias", [w])
        }
    }
    let grid = image / patch
    add("visual.conv1.weight", [vw, 3, patch, patch]); add("visual.class_embedding", [vw])
    add("visual.positional_embedding", [grid * grid + 1, vw])
    add("visual.ln_pre.weight", [vw], constant: 1); add("visual.ln_pre.bias", [vw], constant: 0)
    blocks("visual.transformer.resblocks.", width: vw, layers: vLayers)
    add("visual.ln_post.weight", [vw], constant: 1); add("visual.ln_post.bias", [vw], constant: 0)
    add("visual.proj", [vw, embed])
    add("token_embedding.weight", [vocab, tw]); add("positional_embedding", [context, tw])
    blocks("transformer.resblocks.", width: tw, layers: tLayers)
    add("ln_final.weight", [tw], constant: 1); add("ln_final.bias", [tw], constant: 0)
    add("text_projection", [tw, embed])
    add("logit_scale", [], constant: 4.6052)
    try SafeTensorsWriter.write(items, to: dir.appendingPathComponent("open_clip_model.safetensors"))
    print("wrote \(dir.path): \(items.reduce(0) { $0 + $1.values.count }) parameters")
}
