import Foundation

/// The model Kestrel ships with: a small CLIP trained by `kestrel train --recipe recipes/default.json`
/// (see its model card, `kestrel-default/README.md`). Commands use it when no `--model` is given.
///
/// It is a SwiftPM resource of this target, so a build copies it beside the binary
/// (`<bin>/Kestrel_KestrelDefaultModel.resources/kestrel-default`). Looked up without
/// `Bundle.module` (whose accessor crashes when the bundle is missing).
public enum DefaultModel {
    /// The folder name inside the resource bundle and the source tree.
    public static let folderName = "kestrel-default"
    /// An environment variable that, when set and non-empty, names the default model folder instead.
    public static let environmentVariable = "KESTREL_MODEL"

    /// Where the default model is looked for, in order: `$KESTREL_MODEL`; the resource bundle
    /// beside the running executable (and beside the test bundle's folder); this source folder.
    public static func candidates(environment: [String: String] = ProcessInfo.processInfo.environment) -> [URL] {
        if let env = environment[environmentVariable], !env.isEmpty {
            return [URL(fileURLWithPath: env)]
        }
        var dirs: [URL] = []
        let bundleName = "Kestrel_KestrelDefaultModel.resources"
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            dirs.append(exe.deletingLastPathComponent().appendingPathComponent(bundleName).appendingPathComponent(folderName))
        }
        dirs.append(Bundle.main.bundleURL.appendingPathComponent(bundleName).appendingPathComponent(folderName))
        dirs.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(folderName))
        return dirs
    }

    /// `$KESTREL_MODEL` when it names a folder (of either layout; loading it checks the rest), else
    /// the first candidate that holds the shipped model (config.json and model.safetensors), or nil.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        let fm = FileManager.default
        if let env = environment[environmentVariable], !env.isEmpty {
            var isDirectory: ObjCBool = false
            return fm.fileExists(atPath: env, isDirectory: &isDirectory) && isDirectory.boolValue ? URL(fileURLWithPath: env) : nil
        }
        return candidates(environment: environment).first { dir in
            fm.fileExists(atPath: dir.appendingPathComponent("config.json").path)
                && fm.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path)
        }
    }

    /// Says why there is no default model and what to do.
    public static func missingMessage(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let looked = candidates(environment: environment).map(\.path).joined(separator: ", ")
        if let env = environment[environmentVariable], !env.isEmpty {
            return "no --model given and \(environmentVariable)=\(env) is not a folder; pass --model DIR or fix \(environmentVariable)"
        }
        return "no --model given and the default model is missing from this build (looked in: \(looked)); pass --model DIR, or rebuild from a full clone"
    }
}
