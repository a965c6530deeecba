import Foundation

/// The version of Kestrel's own source a run or a figure came from: `git describe --always
/// --dirty` of the checkout this module was built from (its root derived from `#filePath`), not
/// of whatever directory the command runs in. The one helper behind `RunRecord.gitDescribe` and
/// `EvalContext.codeVersion`.
public enum SourceVersion {
    /// The source root: Sources/KestrelTraining/SourceVersion.swift, three levels up.
    public static let sourceRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `git -C <root> describe --always --dirty`, or "unknown" when `root` is not the top of a git
    /// checkout (no `.git` there: a copied build, a tarball), git is missing or it fails.
    public static func describe(root: URL = sourceRoot) -> String {
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent(".git").path) else { return "unknown" }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", root.path, "describe", "--always", "--dirty"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return "unknown" }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let s = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return p.terminationStatus == 0 && !s.isEmpty ? s : "unknown"
    }
}
