import KestrelKernels
import KestrelModels

/// The differentiable CLIP: both towers and the contrastive loss over one `ParameterSet`.
/// Follows transformers' `CLIPModel` (and open_clip's `CLIP`, the same math): patch conv, class
/// token, position add, pre-LayerNorm, pre-norm blocks (LN, fused qkv, attention, out, residual;
/// LN, fc1, activation, fc2, residual), post-LayerNorm on the class token, projection; text:
/// token gather + position, causal blocks, final LayerNorm, pooled at the first end token,
/// projection; both L2-normalised; symmetric InfoNCE with exp(logit_scale).
///
/// SKELETON: interface fixed by the lead; the graph work fills it in.
public final class CLIPGraph: @unchecked Sendable {
    public let config: CLIPConfig
    public let parameters: ParameterSet

    public init(config: CLIPConfig, parameters: ParameterSet) {
        self.config = config
        self.parameters = parameters
    }

    /// Kestrel's tensor names and shapes for `config`, in a fixed order (q, k, v fused as
    /// `qkv.weight` [3W, W] / `qkv.bias` [3W]; projections as Linear weights [embedDim, width];
    /// `logit_scale` [1]).
    public static func parameterLayout(_ config: CLIPConfig) -> [(name: String, shape: [Int])] {
        fatalError("CLIPGraph.parameterLayout: not implemented yet")
    }

    /// Forward and backward for one batch: ACCUMULATES into `parameters.gradients` (frozen
    /// tensors get none) and returns the loss. The caller zeroes gradients once per step.
    public func lossAndGradients(_ batch: TrainingBatch) -> Float {
        fatalError("CLIPGraph.lossAndGradients: not implemented yet")
    }

    /// Forward only.
    public func loss(_ batch: TrainingBatch) -> Float {
        fatalError("CLIPGraph.loss: not implemented yet")
    }
}
