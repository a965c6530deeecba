import Foundation
import KestrelKernels
import KestrelModels

/// Model folders to and from a `ParameterSet`.
public enum CheckpointIO {
    /// Loads a model folder in either layout (Hugging Face `config.json` + `model.safetensors`,
    /// or OpenCLIP `open_clip_config.json` + `open_clip_model.safetensors`) into Kestrel's
    /// parameter layout (`CLIPGraph.parameterLayout`): Hugging Face q, k, v stacked as the rows
    /// of `qkv`; OpenCLIP projections transposed to [E, W]. Values in F32 whatever the stored dtype.
    /// Throws `ModelError` naming the file, field or tensor at fault (the same checks as
    /// `CLIPModel`: shapes against the config, finite values).
    public static func load(_ directory: URL) throws -> (config: CLIPConfig, layout: CheckpointLayout, parameters: ParameterSet) {
        let (layout, config, tensors, _) = try CheckpointTensors.read(directory)
        let set = ParameterSet(CLIPGraph.parameterLayout(config))
        for view in set.views {
            if let t = tensors[view.name] {
                set.set(view.name, t.data)
            } else if view.name.hasSuffix(".qkv.weight") || view.name.hasSuffix(".qkv.bias") {
                let prefix = String(view.name.dropLast(view.name.hasSuffix("weight") ? 10 : 8))   // "…blockN."
                let suffix = view.name.hasSuffix("weight") ? "weight" : "bias"
                let parts = ["q", "k", "v"].compactMap { tensors["\(prefix)\($0).\(suffix)"]?.data }
                precondition(parts.count == 3, "CheckpointIO: \(view.name) has no q, k, v in the checkpoint keys")
                set.set(view.name, parts.flatMap { $0 })
            } else {
                preconditionFailure("CheckpointIO: \(view.name) is not in the checkpoint key table")
            }
        }
        return (config, layout, set)
    }
}
