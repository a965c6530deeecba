import Foundation
import KestrelFiles
import KestrelImage
import KestrelModels

/// Why an export failed; each names the path and what to do.
public enum ModelExportError: Error, CustomStringConvertible, Sendable {
    case vocabularyMismatch(tokens: Int, modelTokens: Int)
    case cannotWrite(URL, reason: String)

    public var description: String {
        switch self {
        case .vocabularyMismatch(let tokens, let modelTokens):
            return "the vocabulary has \(tokens) tokens but the model's token embedding has \(modelTokens) rows: export with the vocabulary the model was trained with"
        case .cannotWrite(let url, let reason):
            return "cannot write the model folder \(url.path): \(reason) (check the parent folder exists and is writable)"
        }
    }
}

/// Writes trained parameters as a model folder other tools read unchanged.
public enum ModelExport {
    public enum DType: String, Sendable, Codable { case f16, f32 }

    /// A Hugging Face `CLIPModel` folder at `folder` (replaced if it exists; written to a temporary
    /// sibling first and renamed, so a reader never sees half a folder):
    ///   config.json               CLIPModel config (written by Kestrel; `kestrel_export` records format/version)
    ///   model.safetensors         transformers' key names, q/k/v split out of `qkv`, in `dtype`
    ///   preprocessor_config.json  resize shortest side to S with Pillow's BILINEAR (resample 2: the
    ///                             filter the trainer's loader resizes with, so inference sees pictures
    ///                             as training did; measured on the default model, Fashion-MNIST
    ///                             top-1 0.7416 against 0.7366 with CLIP's bicubic), center crop S, and
    ///                             `mean`/`std`: the normalisation the model was trained with
    ///                             (default CLIP's, as OpenAI trained it)
    ///   vocab.json, merges.txt    `vocabulary`
    /// Throws `ModelExportError`.
    public static func saveHuggingFace(parameters: ParameterSet, config: CLIPConfig, to folder: URL,
                                       dtype: DType = .f32, vocabulary: Vocabulary,
                                       mean: [Float] = PreprocessConfig.openAIMean,
                                       std: [Float] = PreprocessConfig.openAIStd) throws {
        guard vocabulary.count == config.vocabSize else {
            throw ModelExportError.vocabularyMismatch(tokens: vocabulary.count, modelTokens: config.vocabSize)
        }
        let fm = FileManager.default
        let parent = folder.deletingLastPathComponent()
        let temporary = parent.appendingPathComponent(".\(folder.lastPathComponent).tmp-\(UUID().uuidString)")
        let cleanup = InterruptCleanup.register(temporary)   // gone once moved into place; removed on Ctrl-C before that
        defer { InterruptCleanup.release(cleanup, removing: true) }
        do {
            try fm.createDirectory(at: temporary, withIntermediateDirectories: false)
            try configJSON(config, dtype: dtype, vocabulary: vocabulary).write(to: temporary.appendingPathComponent("config.json"))
            try preprocessorJSON(config, mean: mean, std: std).write(to: temporary.appendingPathComponent("preprocessor_config.json"))
            try tokenizerJSON(config).write(to: temporary.appendingPathComponent("tokenizer_config.json"))
            try vocabulary.write(to: temporary)
            try SafeTensorsWriter.write(items(parameters, config, dtype), to: temporary.appendingPathComponent("model.safetensors"),
                                        metadata: ["format": "pt"])
            // Not cut in two by Ctrl-C: a signal is handled once the folder is whole again.
            try InterruptCleanup.withSignalsDeferred {
                if fm.fileExists(atPath: folder.path) {
                    // Old folder aside, new one in, old one removed (put back if the swap fails).
                    let old = parent.appendingPathComponent(".\(folder.lastPathComponent).old-\(UUID().uuidString)")
                    try fm.moveItem(at: folder, to: old)
                    do { try fm.moveItem(at: temporary, to: folder) } catch {
                        try? fm.moveItem(at: old, to: folder)
                        throw error
                    }
                    try? fm.removeItem(at: old)
                } else {
                    try fm.moveItem(at: temporary, to: folder)
                }
            }
        } catch {
            try? fm.removeItem(at: temporary)
            throw ModelExportError.cannotWrite(folder, reason: ErrorText.plain(error))
        }
    }

    /// The tensors under transformers' names, in `checkpointKeys` order.
    static func items(_ set: ParameterSet, _ config: CLIPConfig, _ dtype: DType) -> [SafeTensorsWriter.Item] {
        CheckpointLayout.huggingFace.checkpointKeys(config).map { entry in
            let parts = entry.name.split(separator: ".").map(String.init)
            let shape = CheckpointTensors.shape(of: entry.name, config)
            var values: [Float]
            if parts.count >= 2, let part = ["q", "k", "v"].firstIndex(of: parts[parts.count - 2]) {
                let fused = set.tensor(parts.dropLast(2).joined(separator: ".") + ".qkv." + parts.last!).data
                let n = fused.count / 3
                values = Array(fused[(part * n)..<((part + 1) * n)])
            } else {
                values = set.tensor(entry.name).data
            }
            if entry.name == "logit_scale" { values = Array(values.prefix(1)) }
            return SafeTensorsWriter.Item(entry.key, shape: entry.name == "logit_scale" ? [] : shape, values: values,
                                          dtype: dtype == .f16 ? .f16 : .f32)
        }
    }

    static func json(_ object: Any) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }

    static func configJSON(_ c: CLIPConfig, dtype: DType, vocabulary: Vocabulary) throws -> Data {
        func tower(_ t: TowerConfig) -> [String: Any] {
            ["hidden_size": t.width, "num_hidden_layers": t.layers, "num_attention_heads": t.heads,
             "intermediate_size": t.mlpWidth, "hidden_act": t.activation, "layer_norm_eps": Double("\(t.layerNormEps)") ?? 1e-5,
             "projection_dim": c.embedDim]
        }
        var text = tower(c.text)
        text["model_type"] = "clip_text_model"
        text["vocab_size"] = c.vocabSize
        text["max_position_embeddings"] = c.contextLength
        text["bos_token_id"] = vocabulary.startToken
        text["eos_token_id"] = c.endTokenID
        text["pad_token_id"] = c.endTokenID
        var vision = tower(c.vision)
        vision["model_type"] = "clip_vision_model"
        vision["image_size"] = c.imageSize
        vision["patch_size"] = c.patchSize
        vision["num_channels"] = 3
        return try json([
            "kestrel_export": ["format": "kestrel-clip-export", "version": 1],
            "architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": c.embedDim,
            // Floats only (transformers checks types; JSONSerialization writes 1.0 as 1): the
            // fields left out take transformers' defaults (initializer_factor 1, dropout 0).
            "logit_scale_init_value": 2.6592,
            "torch_dtype": dtype == .f16 ? "float16" : "float32",
            "text_config": text, "vision_config": vision,
        ])
    }

    /// CLIP's standard preprocessing at the model's image size, normalised with `mean` and `std`.
    static func preprocessorJSON(_ c: CLIPConfig, mean: [Float] = PreprocessConfig.openAIMean,
                                 std: [Float] = PreprocessConfig.openAIStd) throws -> Data {
        // Each Float as its shortest decimal (OpenAI's exactly as they publish them).
        func decimals(_ v: [Float]) -> [Double] {
            if v == PreprocessConfig.openAIMean { return [0.48145466, 0.4578275, 0.40821073] }
            if v == PreprocessConfig.openAIStd { return [0.26862954, 0.26130258, 0.27577711] }
            return v.map { Double("\($0)") ?? Double($0) }
        }
        return try json([
            "image_processor_type": "CLIPImageProcessor", "processor_class": "CLIPProcessor",
            "do_resize": true, "size": ["shortest_edge": c.imageSize], "resample": 2,
            "do_center_crop": true, "crop_size": ["height": c.imageSize, "width": c.imageSize],
            "do_rescale": true, "rescale_factor": 1.0 / 255.0, "do_normalize": true, "do_convert_rgb": true,
            "image_mean": decimals(mean), "image_std": decimals(std),
        ])
    }

    static func tokenizerJSON(_ c: CLIPConfig) throws -> Data {
        try json([
            "tokenizer_class": "CLIPTokenizer", "model_max_length": c.contextLength,
            "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
            "unk_token": "<|endoftext|>", "do_lower_case": true,
        ])
    }
}
