import Foundation
import KestrelKernels

extension CLIPConfig {
    /// Throws `ModelError.badConfigField` naming the field (with `file` as the source to blame)
    /// unless the numbers fit together (heads divide widths, the patch divides the image, ...).
    public func check(source file: URL) throws { try validate(file: file) }
}

/// How a checkpoint tensor becomes Kestrel's tensor (the public face of `WeightTransform`).
public enum CheckpointTransform: Sendable, Equatable {
    case asIs
    /// OpenCLIP projections are stored [in, out]; Kestrel keeps Linear's [out, in].
    case transpose
    /// Rows `part` of `of` equal slices (q, k or v of OpenCLIP's fused in_proj).
    case rows(part: Int, of: Int)
}

/// One tensor of a checkpoint: Kestrel's name (blocks numbered: `text.block3.fc1.weight`), the
/// layout's key, and the transform from the stored tensor to Kestrel's.
public struct CheckpointKey: Sendable, Equatable {
    public let name: String
    public let key: String
    public let transform: CheckpointTransform
}

extension CheckpointLayout {
    /// Every tensor a checkpoint of `config` holds in this layout, one entry per stored key
    /// (Hugging Face: q, k, v apart, no `qkv`; OpenCLIP: the fused `qkv` as in_proj, no q/k/v),
    /// from the same `weightRules` table the loader uses.
    public func checkpointKeys(_ config: CLIPConfig) -> [CheckpointKey] {
        var keys: [CheckpointKey] = []
        for rule in weightRules {
            let raw: String
            let transform: CheckpointTransform
            if self == .huggingFace {
                guard let hf = rule.huggingFace else { continue }
                raw = hf; transform = .asIs
            } else {
                if case .rows = rule.openCLIPTransform { continue }   // q/k/v: stored fused as qkv
                raw = rule.openCLIP
                if case .transpose = rule.openCLIPTransform { transform = .transpose } else { transform = .asIs }
            }
            if rule.name.contains("{i}") {
                let layers = rule.name.hasPrefix("vision.") ? config.vision.layers : config.text.layers
                for i in 0..<layers {
                    keys.append(CheckpointKey(name: rule.name.replacingOccurrences(of: "{i}", with: String(i)),
                                              key: raw.replacingOccurrences(of: "{i}", with: String(i)), transform: transform))
                }
            } else {
                keys.append(CheckpointKey(name: rule.name, key: raw, transform: transform))
            }
        }
        return keys
    }
}

/// Reads every tensor of a model folder by Kestrel name, with the loader's checks (shapes against
/// the config, finite values, leftovers). Hugging Face q/k/v come back apart (`…q.weight`).
public enum CheckpointTensors {
    /// (layout, config, tensors by Kestrel name as `checkpointKeys` lists them, stored dtypes).
    /// Throws `ModelError` naming the file, field or tensor at fault.
    public static func read(_ directory: URL) throws
        -> (layout: CheckpointLayout, config: CLIPConfig, tensors: [String: Tensor], dtypes: Set<String>) {
        let (layout, configURL, weightsURL) = try CLIPModel.detectLayout(directory)
        try ModelFiles.checkFolder(directory)
        let config = try CLIPConfig.load(configURL, layout: layout)
        let file = try SafeTensorsFile(url: weightsURL)
        let reader = WeightReader(file: file, layout: layout)
        try ConfigCheck(config: config, reader: reader, configURL: configURL).run()
        var tensors: [String: Tensor] = [:]
        for entry in layout.checkpointKeys(config) {
            let rule = entry.name.replacingOccurrences(of: #"block\d+\."#, with: "block{i}.", options: .regularExpression)
            let block = entry.name.firstMatch(of: /block(\d+)\./).map { Int($0.1)! }
            tensors[entry.name] = try reader.tensor(rule, block: block, shape: shape(of: entry.name, config))
        }
        return (layout, config, tensors, file.dtypes)
    }

    /// Kestrel's shape of tensor `name` under `config` (q/k/v: [W, W] and [W]).
    public static func shape(of name: String, _ c: CLIPConfig) -> [Int] {
        let tower = name.hasPrefix("vision.") ? c.vision : c.text
        let w = tower.width, m = tower.mlpWidth
        switch name.split(separator: ".").suffix(2).joined(separator: ".") {
        case "q.weight", "k.weight", "v.weight", "out.weight": return [w, w]
        case "q.bias", "k.bias", "v.bias", "out.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "fc2.bias": return [w]
        case "qkv.weight": return [3 * w, w]
        case "qkv.bias": return [3 * w]
        case "fc1.weight": return [m, w]
        case "fc1.bias": return [m]
        case "fc2.weight": return [w, m]
        default: break
        }
        switch name {
        case "vision.patch": return [w, 3, c.patchSize, c.patchSize]
        case "vision.class": return [w]
        case "vision.position": return [c.visionTokens, w]
        case "vision.projection", "text.projection": return [c.embedDim, w]
        case "text.token": return [c.vocabSize, w]
        case "text.position": return [c.contextLength, w]
        case "logit_scale": return [1]
        default: return [w]   // pre/post/final LayerNorm weight and bias
        }
    }
}
