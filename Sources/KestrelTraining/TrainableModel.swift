/// What the training loop needs from a model: its parameters and one forward + backward.
/// `CLIPGraph` is the real one; tests of the loop may use a small model of their own.
public protocol TrainableModel: AnyObject {
    var parameters: ParameterSet { get }
    /// Forward and backward for one batch: accumulates into `parameters.gradients`; returns the loss.
    func lossAndGradients(_ batch: TrainingBatch) -> Float
}

extension CLIPGraph: TrainableModel {}
