import Foundation

/// `run.json`: how a trained model was made, so the run can be reproduced and its figures read
/// in context. `"format": "kestrel-run"`, `"version": 1`.
public struct RunRecord: Codable, Sendable {
    public var format = "kestrel-run"
    public var version = 1
    public var recipe: Recipe
    public var recipeDigest: String
    public var seed: UInt64
    public var dataFolder: String
    /// SHA-256 (hex) of the manifest.jsonl bytes the loader parsed (which hold each image's SHA-256); the
    /// same hash the checkpoints store.
    public var manifestSHA256: String
    /// Training entries per source.
    public var trainEntries: [String: Int]
    /// `git describe --always --dirty` of Kestrel's source checkout (`SourceVersion`) when the run
    /// started, or "unknown".
    public var gitDescribe: String
    public var machine: Machine
    public var threads: Int
    public var steps: Int
    public var samplesSeen: Int
    /// Over this process's training time (resumed runs: since the resume).
    public var samplesPerSecond: Double
    public var peakRSSBytes: Int
    public var wallSeconds: Double
    /// Step this process resumed from (nil: started from scratch).
    public var resumedFromStep: Int?
    public var finalLoss: Float?
    public var started: String
    public var finished: String

    public struct Machine: Codable, Sendable {
        public var cpu: String
        public var cores: Int
        public static func current() -> Machine {
            var cpu = "unknown"
            if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
               let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
               let colon = line.firstIndex(of: ":") {
                cpu = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            return Machine(cpu: cpu, cores: ProcessInfo.processInfo.activeProcessorCount)
        }
    }

    enum CodingKeys: String, CodingKey {
        case format, version, recipe, recipeDigest = "recipe_digest", seed, dataFolder = "data_folder"
        case manifestSHA256 = "manifest_sha256", trainEntries = "train_entries", gitDescribe = "git_describe"
        case machine, threads, steps, samplesSeen = "samples_seen", samplesPerSecond = "samples_per_s"
        case peakRSSBytes = "peak_rss_bytes", wallSeconds = "wall_s", resumedFromStep = "resumed_from_step"
        case finalLoss = "final_loss", started, finished
    }

    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try TrainingCheckpoint.writeAtomically([UInt8](try encoder.encode(self)) + [10], to: url)
    }

    /// Peak resident memory of this process (VmHWM from /proc/self/status), in bytes; 0 if unknown.
    public static func peakRSS() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }

    /// `git describe --always --dirty` of the checkout at `directory` (`SourceVersion.describe`),
    /// or "unknown".
    public static func gitDescribe(in directory: URL = SourceVersion.sourceRoot) -> String {
        SourceVersion.describe(root: directory)
    }

    public static func timestamp(_ date: Date = Date()) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }
}
