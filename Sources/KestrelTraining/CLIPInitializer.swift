import Foundation
import KestrelModels

/// Fresh weights for training from scratch: transformers' `CLIPPreTrainedModel._init_weights`
/// with initializer_factor 1 (W = the tower's width, L = its layers):
///   token and position embeddings N(0, 0.02); class embedding N(0, W^-½); patch conv N(0, 0.02);
///   q, k, v (the rows of `qkv`) N(0, W^-½·(2L)^-½); attention out N(0, W^-½);
///   fc1 N(0, (2W)^-½); fc2 N(0, W^-½·(2L)^-½); projections N(0, W^-½) (W of their tower);
///   LayerNorm weights 1, every bias 0; logit_scale ln(1/0.07).
/// Tensors are drawn in `CLIPGraph.parameterLayout` order from one `TrainingRNG(seed:)`, so the
/// same seed gives the same weights on every machine.
public enum CLIPInitializer {
    public static func random(config: CLIPConfig, seed: UInt64) -> ParameterSet {
        let set = ParameterSet(CLIPGraph.parameterLayout(config))
        var rng = TrainingRNG(seed: seed)
        for view in set.views {
            let tower = view.name.hasPrefix("vision.") ? config.vision : config.text
            let w = Float(tower.width), layers = Float(tower.layers)
            let residualStd = 1 / w.squareRoot() / (2 * layers).squareRoot()
            let last = view.name.split(separator: ".").suffix(2).joined(separator: ".")
            let std: Float?   // nil: a constant
            switch view.name {
            case "logit_scale":
                set.set(view.name, [Float(Foundation.log(1 / 0.07))]); continue
            case "text.token", "text.position", "vision.position", "vision.patch": std = 0.02
            case "vision.class", "vision.projection", "text.projection": std = 1 / w.squareRoot()
            default:
                switch last {
                case "qkv.weight", "fc2.weight": std = residualStd
                case "out.weight": std = 1 / w.squareRoot()
                case "fc1.weight": std = 1 / (2 * w).squareRoot()
                default: std = nil   // LayerNorm weights (1) and biases (0)
                }
            }
            if let std {
                set.set(view.name, (0..<view.count).map { _ in rng.nextGaussian() * std })
            } else if view.name.hasSuffix(".weight") {
                set.set(view.name, [Float](repeating: 1, count: view.count))
            }
        }
        return set
    }
}
