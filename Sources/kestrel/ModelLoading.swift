import ArgumentParser
import Foundation
import KestrelEngine

/// Loads a model folder for a command, turning a missing path into a usage error.
func loadModel(_ path: String, precision: Precision = .fp32) throws -> CLIPModel {
    let url = try RawArguments.textURL(path, option: "--model")
    guard FileManager.default.fileExists(atPath: url.path) else {
        throw ValidationError("--model \(path): no such folder")
    }
    let model = try CLIPModel(directory: url, precision: precision)
    warnAboutPrecision(model)
    return model
}
