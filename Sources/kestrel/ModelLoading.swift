import ArgumentParser
import Foundation
import KestrelEngine

/// The model folder a command runs: `--model` when given (a missing folder is a usage error),
/// else the default model (`DefaultModel`: $KESTREL_MODEL, else the one shipped with Kestrel).
func modelFolder(_ path: String?) throws -> URL {
    guard let path else {
        guard let url = DefaultModel.locate() else { throw CommandFailure(message: DefaultModel.missingMessage()) }
        return url
    }
    let url = try RawArguments.textURL(path, option: "--model")
    guard FileManager.default.fileExists(atPath: url.path) else {
        throw ValidationError("--model \(path): no such folder")
    }
    return url
}

/// Loads a model folder for a command (nil: the default model).
func loadModel(_ path: String?, precision: Precision = .fp32) throws -> CLIPModel {
    let model = try CLIPModel(directory: try modelFolder(path), precision: precision)
    warnAboutPrecision(model)
    return model
}
