import Foundation

/// One line of `train.jsonl`: what the loop measured at an optimiser step.
public struct TrainingLogLine: Sendable, Equatable {
    public var step: Int
    public var loss: Float
    public var learningRate: Float
    public var logitScale: Float?
    public var gradNorm: Float
    public var samplesPerSecond: Double
    public var elapsedSeconds: Double
    /// The region-phrase loss of the step's last micro-batch (unweighted), when the recipe has one.
    public var regionLoss: Float? = nil

    /// One JSON object on one line. Floats are written in Swift's shortest round-trip form, so a
    /// loss read back is the same Float bit for bit.
    public var json: String {
        func f(_ x: Float) -> String { x.isFinite ? "\(x)" : "null" }
        func d(_ x: Double) -> String { String(format: "%.3f", x) }
        var s = "{\"step\":\(step),\"loss\":\(f(loss)),\"lr\":\(f(learningRate))"
        s += ",\"logit_scale\":" + (logitScale.map(f) ?? "null")
        s += ",\"grad_norm\":\(f(gradNorm)),\"samples_per_s\":\(d(samplesPerSecond)),\"elapsed_s\":\(d(elapsedSeconds))"
        if let regionLoss { s += ",\"region_loss\":\(f(regionLoss))" }
        s += "}"
        return s
    }
}

/// One logged point of a training run (a `train.jsonl` line: step, loss, learning rate).
public struct TrainingLogPoint: Sendable, Equatable {
    public var step: Int
    public var loss: Double
    public var learningRate: Double
    public init(step: Int, loss: Double, learningRate: Double) { self.step = step; self.loss = loss; self.learningRate = learningRate }
}

/// A `train.jsonl` line that `TrainingLog.read` refuses: the file, the line (from 1) and why.
public struct TrainingLogError: Error, CustomStringConvertible, Sendable, Equatable {
    public var name: String, line: Int, detail: String
    public var description: String { "\(name) line \(line): \(detail)" }
}

/// Appends lines to `train.jsonl`; on resume, first drops lines past the checkpoint's step (a
/// killed run may have logged steps that the resumed run will take again).
public final class TrainingLog {
    public let url: URL
    private let handle: FileHandle

    public init(url: URL, keepThrough step: Int) throws {
        self.url = url
        let fm = FileManager.default
        var kept = Data()
        if step > 0, let old = fm.contents(atPath: url.path) {
            for line in old.split(separator: UInt8(ascii: "\n")) {
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                      let s = obj["step"] as? Int, s <= step else { continue }
                kept.append(Data(line)); kept.append(UInt8(ascii: "\n"))
            }
        }
        guard fm.createFile(atPath: url.path, contents: kept), let h = FileHandle(forWritingAtPath: url.path) else {
            throw CheckpointError.io(path: url.path, reason: "cannot be written")
        }
        handle = h
        handle.seekToEndOfFile()
    }

    public func append(_ line: TrainingLogLine) {
        handle.write(Data((line.json + "\n").utf8))
    }

    /// Reads the losses of a log, by step (tests and tools), with `read`.
    public static func losses(at url: URL) throws -> [Int: Float] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CheckpointError.io(path: url.path, reason: "cannot be read")
        }
        var out = [Int: Float]()
        for p in try read([UInt8](data), name: url.path) { out[p.step] = Float(p.loss) }
        return out
    }

    /// The one reader of `train.jsonl`: each non-blank line a JSON object with numbers `step`
    /// (>= 0, increasing from line to line), `loss` (finite) and `lr` (finite, >= 0). Anything
    /// else throws `TrainingLogError` naming `name` and the line (counting every line, blank ones
    /// included).
    public static func read(_ bytes: [UInt8], name: String) throws -> [TrainingLogPoint] {
        var points: [TrainingLogPoint] = []
        for (i, line) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            func bad(_ detail: String) -> TrainingLogError { TrainingLogError(name: name, line: i + 1, detail: detail) }
            guard line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let stepNumber = object["step"] as? NSNumber, let lossNumber = object["loss"] as? NSNumber,
                  let lrNumber = object["lr"] as? NSNumber
            else { throw bad("not a train.jsonl line (a JSON object with numbers step, loss and lr)") }
            let stepValue = stepNumber.doubleValue, loss = lossNumber.doubleValue, lr = lrNumber.doubleValue
            guard stepValue >= 0, stepValue <= Double(1 << 53), stepValue == stepValue.rounded() else {
                throw bad("step \(stepNumber) is not a whole number in 0...2^53")
            }
            let step = Int(stepValue)
            if let previous = points.last, step <= previous.step {
                throw bad("step \(step) does not follow step \(previous.step) (steps must increase)")
            }
            guard loss.isFinite else { throw bad("loss \(lossNumber) is not a finite number") }
            guard lr.isFinite, lr >= 0 else { throw bad("lr \(lrNumber) is not a finite number >= 0") }
            points.append(TrainingLogPoint(step: step, loss: loss, learningRate: lr))
        }
        return points
    }

    deinit { try? handle.close() }
}
