import Foundation

/// The learning-rate schedule: linear warm-up from 0, then a cosine from the peak down to the
/// minimum (open_clip's `cosine_lr` with a floor): for step s = 0, 1, ... (the update about to run),
///   s < warmup:  peak · (s + 1) / warmup
///   otherwise:   min + (peak - min) · (1 + cos(π · (s - warmup) / (steps - warmup))) / 2
/// Computed in Double, rounded to Float once.
public struct Schedule: Sendable, Equatable {
    public var peak: Double
    public var minimum: Double
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(peak: Double, minimum: Double, warmupSteps: Int, totalSteps: Int) {
        self.peak = peak; self.minimum = minimum; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
    }

    public init(_ recipe: Recipe) {
        self.init(peak: recipe.learningRate, minimum: recipe.minLearningRate, warmupSteps: recipe.warmupSteps,
                  totalSteps: recipe.steps)
    }

    /// The learning rate of update `step` (0-based).
    public func learningRate(step: Int) -> Float {
        if step < warmupSteps { return Float(peak * Double(step + 1) / Double(warmupSteps)) }
        let span = totalSteps - warmupSteps
        if span <= 0 { return Float(peak) }
        let progress = min(1, Double(step - warmupSteps) / Double(span))
        return Float(minimum + (peak - minimum) * 0.5 * (1 + cos(Double.pi * progress)))
    }
}
