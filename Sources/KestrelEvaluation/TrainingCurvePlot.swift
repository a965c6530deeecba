import Foundation
import KestrelTraining

extension Plots {
    /// The training curve: loss against step (blue), and the learning rate scaled to the plot's
    /// height (gray), with the first and last loss and the steps on the axes.
    public static func trainingCurve(_ points: [TrainingLogPoint], title: String = "TRAINING LOSS") -> Canvas {
        let w = 560, h = 300, left = 64, top = 36
        var canvas = Canvas(width: left + w + 24, height: top + h + 48)
        BitmapFont.draw(title, on: &canvas, x: 8, y: 8, color: .black)
        canvas.frame(x: left, y: top, width: w + 1, height: h + 1, color: .black)
        let finite = points.filter { $0.loss.isFinite && $0.learningRate.isFinite }
        guard let first = finite.first, let last = finite.last else { return canvas }
        let lo = min(0, finite.map(\.loss).min()!), hi = max(finite.map(\.loss).max()!, lo + 1e-9)
        let maxStep = max(finite.map(\.step).max()!, 1), maxLR = max(finite.map(\.learningRate).max()!, 1e-12)
        // Positions as shares of the plot, clamped to a margin around it, so any finite value
        // (a huge loss, a negative step) gives a pixel coordinate that fits an Int.
        func share(_ v: Double) -> Double { v.isFinite ? min(2, max(-1, v)) : 0 }
        func x(_ step: Int) -> Int { left + Int((share(Double(step) / Double(maxStep)) * Double(w)).rounded()) }
        func y(_ v: Double, _ top0: Double, _ span: Double) -> Int { top + h - Int((share((v - top0) / span) * Double(h)).rounded()) }
        for (a, b) in zip(finite, finite.dropFirst()) {
            canvas.line(x(a.step), y(a.learningRate, 0, maxLR), x(b.step), y(b.learningRate, 0, maxLR), color: .gray)
            canvas.line(x(a.step), y(a.loss, lo, hi - lo), x(b.step), y(b.loss, lo, hi - lo), color: .blue)
        }
        for v in [lo, hi] {
            let label = String(format: "%.2f", v)
            BitmapFont.draw(label, on: &canvas, x: left - 8 - BitmapFont.width(of: label), y: y(v, lo, hi - lo) - 3, color: .black)
        }
        for s in [0, maxStep / 2, maxStep] {
            let label = "\(s)"
            BitmapFont.draw(label, on: &canvas, x: x(s) - BitmapFont.width(of: label) / 2, y: top + h + 8, color: .black)
        }
        let note = String(format: "STEP   LOSS %.3f TO %.3f   GRAY: LEARNING RATE (PEAK %.1e)", first.loss, last.loss, maxLR)
        BitmapFont.draw(note, on: &canvas, x: left, y: top + h + 26, color: .black)
        return canvas
    }
}
