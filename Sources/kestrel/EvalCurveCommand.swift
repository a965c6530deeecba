import ArgumentParser
import Foundation
import KestrelEngine
import KestrelEvaluation

/// `kestrel eval curve`: the training curve of a run as a PNG (the model card's figure).
struct EvalCurveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "curve", abstract: "Plot a training run's loss and learning rate (its train.jsonl) as a PNG.")

    @Option(name: .long, help: "The run's train.jsonl (written by `kestrel train`).") var log: String
    @Option(name: .long, help: "The PNG to write.") var out: String

    func validate() throws {
        if log.isEmpty { throw ValidationError("--log needs a file name; '' names none") }
        if out.isEmpty { throw ValidationError("--out needs a file name; '' names none") }
    }

    func run() throws {
        try reportingErrors {
            let path = RawArguments.path(log)
            let points = try TrainingLogPoint.read(try FileSystem.readFile(path, limit: 256 << 20), name: path.lossyString)
            guard !points.isEmpty else { throw CommandFailure(message: "\(path.lossyString) holds no logged step") }
            let png = try Plots.trainingCurve(points).png(name: out)
            try Data(png).write(to: URL(fileURLWithPath: out), options: .atomic)
            print("wrote \(out): \(points.count) points, steps \(points.first!.step) to \(points.last!.step)")
        }
    }
}
