import KestrelKernels

/// AdamW with decoupled weight decay (Loshchilov & Hutter 2019; torch.optim.AdamW), over a
/// `ParameterSet`: one kernel call per tensor, weight decay only where `View.decays`, frozen
/// tensors skipped (their moments stay zero). After each step the logit scale is clamped to
/// ln 100 as open_clip's training loop does.
public final class AdamW: @unchecked Sendable {
    public struct Settings: Codable, Sendable, Equatable {
        public var beta1: Float = 0.9
        public var beta2: Float = 0.98
        public var eps: Float = 1e-6
        public var weightDecay: Float = 0.2
        public init(beta1: Float = 0.9, beta2: Float = 0.98, eps: Float = 1e-6, weightDecay: Float = 0.2) {
            self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        }
    }

    public let parameters: ParameterSet
    public var settings: Settings
    /// First and second moments, same layout as the parameters. [count]
    public var m: [Float]
    public var v: [Float]
    /// Steps taken (t in the bias corrections; the next step is t + 1).
    public var step: Int = 0
    /// ln 100: the largest logit scale (open_clip clamps `logit_scale` to [0, ln 100]).
    public static let maxLogScale = Float(4.605170185988092)

    public init(parameters: ParameterSet, settings: Settings) {
        self.parameters = parameters
        self.settings = settings
        m = [Float](repeating: 0, count: parameters.count)
        v = [Float](repeating: 0, count: parameters.count)
    }

    /// One update at `learningRate` from the gradients in `parameters.gradients`.
    public func update(learningRate: Float) {
        step += 1
        let t = step
        let s = settings
        parameters.values.withUnsafeMutableBufferPointer { p in
            parameters.gradients.withUnsafeBufferPointer { g in
                m.withUnsafeMutableBufferPointer { mb in
                    v.withUnsafeMutableBufferPointer { vb in
                        for view in parameters.views where view.trainable {
                            let o = view.offset
                            TrainOps.adamWStep(
                                parameters: p.baseAddress! + o, gradients: g.baseAddress! + o,
                                m: mb.baseAddress! + o, v: vb.baseAddress! + o, count: view.count,
                                learningRate: learningRate, beta1: s.beta1, beta2: s.beta2, eps: s.eps,
                                weightDecay: view.decays ? s.weightDecay : 0, step: t)
                        }
                    }
                }
            }
        }
        if parameters.contains("logit_scale") {
            let o = parameters.view("logit_scale").offset
            parameters.values[o] = min(max(parameters.values[o], 0), AdamW.maxLogScale)
        }
    }

    /// The global L2 norm of the trainable gradients; scales them down to `maxNorm` when larger
    /// (torch.nn.utils.clip_grad_norm_). Returns the norm before clipping.
    @discardableResult
    public func clipGradients(maxNorm: Float) -> Float {
        var total = 0.0
        parameters.gradients.withUnsafeBufferPointer { g in
            for view in parameters.views where view.trainable {
                total += TrainOps.sumOfSquares(g.baseAddress! + view.offset, count: view.count)
            }
        }
        let norm = Float(total.squareRoot())
        if maxNorm > 0 && norm > maxNorm {
            let factor = maxNorm / (norm + 1e-6)
            parameters.gradients.withUnsafeMutableBufferPointer { g in
                for view in parameters.views where view.trainable {
                    TrainOps.scale(g.baseAddress! + view.offset, count: view.count, by: factor)
                }
            }
        }
        return norm
    }
}
