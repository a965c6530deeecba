import ArgumentParser
import Foundation
import KestrelEngine
import KestrelEvaluation
import KestrelTraining

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
            let path = RawArguments.path(log), outPath = RawArguments.path(out)
            let points = try TrainingLog.read(try FileSystem.readFile(path, limit: 256 << 20), name: path.description)
            guard !points.isEmpty else { throw CommandFailure(message: "\(path) holds no logged step") }
            try FileSystem.writeFileAtomically(try Plots.trainingCurve(points).png(name: outPath.description), to: outPath)
            print("wrote \(outPath): \(points.count) points, steps \(points.first!.step) to \(points.last!.step)")
        }
    }
}
