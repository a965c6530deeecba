import Foundation
import KestrelFiles

/// Options of `kestrel data build`.
public struct DataBuildOptions: Sendable {
    /// In manifest order; "grounding" last, so a folder with it holds the others' entries unchanged.
    public static let allSources = ["fashion-mnist", "openclipart", "emoji", "scenes", "grounding"]
    public var output: URL
    public var sources: [String] = DataBuildOptions.allSources
    /// Training scenes (held-out scenes: `ScenesSource.heldOutCount(train:)`).
    public var scenes: Int = 30_000
    /// Training scenes of the "grounding" source (`GroundingTrainingSource`).
    public var groundingScenes: Int = GroundingTrainingSource.defaultCount
    public var seed: UInt64 = 0
    public var threads: Int = 2
    public init(output: URL) { self.output = output }
}

/// What a build wrote (also in build.json).
public struct DataBuildSummary: Codable, Sendable {
    public var format = "kestrel-data-build"
    public var version = 1
    public var seed: UInt64
    public var sources: [String]
    public var scenes: Int
    /// Training scenes of the "grounding" source when it was built (nil otherwise, and in older folders).
    public var groundingScenes: Int?
    /// source -> split -> count.
    public var counts: [String: [String: Int]]
    public var total: Int
    /// Debian package -> version, from /var/lib/dpkg/status where readable.
    public var packages: [String: String]
    public var evalFiles: [String]
    public var elapsedSeconds: Double
    public var threads: Int
    /// `git describe` of the Kestrel checkout that built the data (`SourceVersion.describe`):
    /// with the seed and the package versions, what reproduces the folder. nil in folders built
    /// before it was recorded.
    public var codeVersion: String?
}

/// Builds a data folder: images under <source>/, manifest.jsonl, eval/*.csv, build.json.
/// Writes into `<out>.partial-<pid>` and renames it to `<out>` at the end (an existing `<out>`
/// is refused, never overwritten). Reference for the format: docs/data.md.
public enum DataBuilder {
    public static func build(_ options: DataBuildOptions, progress: @escaping @Sendable (String) -> Void) throws -> DataBuildSummary {
        let start = Date()
        for s in options.sources where !DataBuildOptions.allSources.contains(s) {
            throw DataBuildError.badArgument("unknown source '\(s)'; choose from \(DataBuildOptions.allSources.joined(separator: ","))")
        }
        guard options.scenes >= 1, options.scenes <= 10_000_000 else { throw DataBuildError.badArgument("--scenes must be 1...10000000, got \(options.scenes)") }
        guard options.groundingScenes >= 1, options.groundingScenes <= 10_000_000 else {
            throw DataBuildError.badArgument("--grounding-scenes must be 1...10000000, got \(options.groundingScenes)")
        }
        let fm = FileManager.default
        let out = options.output.standardizedFileURL
        if fm.fileExists(atPath: out.path) {
            throw DataBuildError.badArgument("\(out.path) already exists; choose a new --out folder or remove it")
        }
        let partial = URL(fileURLWithPath: out.path + ".partial-\(getpid())")
        do { try FileSystem.makeDirectories(FilePathBytes(partial.path)) } catch {
            throw DataBuildError.writeFailed(path: partial.path, detail: ImageSink.reason(error))
        }
        let cleanup = InterruptCleanup.register(partial)   // Ctrl-C does not leave the half-built folder behind
        do {
            let summary = try buildInto(partial, options: options, start: start, progress: progress)
            do { try fm.moveItem(at: partial, to: out) } catch { throw DataBuildError.writeFailed(path: out.path, detail: "rename from \(partial.lastPathComponent): \(ErrorText.plain(error))") }
            InterruptCleanup.release(cleanup, removing: false)
            return summary
        } catch {
            progress("data build failed; removing \(partial.path)")
            InterruptCleanup.release(cleanup, removing: true)
            throw error
        }
    }

    static func buildInto(_ dir: URL, options: DataBuildOptions, start: Date, progress: @escaping @Sendable (String) -> Void) throws -> DataBuildSummary {
        let sink = ImageSink(root: dir)
        var outputs = [SourceOutput]()
        for source in DataBuildOptions.allSources where options.sources.contains(source) {
            let t0 = Date()
            let o: SourceOutput
            switch source {
            case "fashion-mnist": o = try FashionMNISTSource.build(sink: sink, seed: options.seed, threads: options.threads, progress: progress)
            case "openclipart": o = try OpenClipartSource.build(sink: sink, seed: options.seed, threads: options.threads, progress: progress)
            case "emoji": o = try EmojiSource.build(sink: sink, seed: options.seed, threads: options.threads, progress: progress)
            case "grounding": o = try GroundingTrainingSource.build(sink: sink, seed: options.seed, count: options.groundingScenes,
                                                                     threads: options.threads, progress: progress)
            default: o = try ScenesSource.build(sink: sink, seed: options.seed, train: options.scenes, threads: options.threads, progress: progress)
            }
            progress(String(format: "%@: %d files in %.1f s", source, o.entries.count, Date().timeIntervalSince(t0)))
            outputs.append(o)
        }
        // A held-out shape-colour combination must not reach training through another source
        // either (the emoji "large blue circle"): such entries are held out too.
        for o in outputs.indices where !["scenes", "grounding"].contains(outputs[o].entries.first?.source ?? "") {
            for e in outputs[o].entries.indices where outputs[o].entries[e].split == "train"
                && outputs[o].entries[e].captions.contains(where: ScenesSource.namesHeldOutCombination) {
                outputs[o].entries[e].split = "heldout"
            }
        }
        // manifest.jsonl
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var manifest = [UInt8]()
        var counts = [String: [String: Int]]()
        for o in outputs {
            for e in o.entries {
                manifest += try encoder.encode(e); manifest.append(0x0A)
                counts[e.source, default: [:]][e.split, default: 0] += 1
            }
        }
        try sink.write(manifest, to: "manifest.jsonl")
        // eval CSVs: paths relative to eval/
        try sink.makeFolder("eval")
        var evalNames = [String]()
        for o in outputs {
            for (name, file) in o.evalFiles.sorted(by: { $0.key < $1.key }) {
                let rows = file.rows.map { ["../" + $0[0]] + $0.dropFirst() }
                try sink.write(Array(DataText.csv(header: file.header, rows: rows).utf8), to: "eval/\(name)")
                evalNames.append("eval/\(name)")
            }
        }
        var packages = [String: String]()
        let wanted = options.sources.compactMap { ["fashion-mnist": FashionMNISTSource.package, "openclipart": OpenClipartSource.package,
                                                   "emoji": EmojiSource.package][$0] }
        if let status = try? String(contentsOfFile: "/var/lib/dpkg/status", encoding: .utf8) {
            packages = dpkgVersions(status, wanted: Set(wanted))
        }
        let summary = DataBuildSummary(seed: options.seed, sources: options.sources, scenes: options.scenes,
                                       groundingScenes: options.sources.contains("grounding") ? options.groundingScenes : nil, counts: counts,
                                       total: counts.values.flatMap(\.values).reduce(0, +), packages: packages, evalFiles: evalNames,
                                       elapsedSeconds: (Date().timeIntervalSince(start) * 10).rounded() / 10, threads: options.threads,
                                       codeVersion: SourceVersion.describe())
        let pretty = JSONEncoder()
        pretty.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try sink.write(Array(try pretty.encode(summary)) + [0x0A], to: "build.json")
        return summary
    }

    /// Versions of `wanted` packages from dpkg's status file text.
    public static func dpkgVersions(_ status: String, wanted: Set<String>) -> [String: String] {
        var out = [String: String]()
        for stanza in status.components(separatedBy: "\n\n") {
            var name: String?, version: String?
            for line in stanza.split(separator: "\n") {
                if line.hasPrefix("Package: ") { name = String(line.dropFirst(9)) }
                if line.hasPrefix("Version: ") { version = String(line.dropFirst(9)) }
            }
            if let n = name, let v = version, wanted.contains(n), stanza.contains("Status: install ok installed") { out[n] = v }
        }
        return out
    }

    /// Reads a manifest.jsonl (`readManifestBytes`, then `parseManifest`). The one manifest
    /// reader: `DataLoader` calls it too.
    public static func readManifest(_ url: URL) throws -> [ManifestEntry] {
        try parseManifest(try readManifestBytes(url), path: url.path)
    }

    /// The manifest's bytes (the loader hashes them for the run record and checkpoints). Throws
    /// `DataLoaderError.missingManifest`, or `.badManifestLine` (line 0) for a folder or an
    /// unreadable file.
    public static func readManifestBytes(_ url: URL) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw DataLoaderError.missingManifest(path: url.path)
        }
        guard !isDirectory.boolValue, let data = FileManager.default.contents(atPath: url.path) else {
            throw DataLoaderError.badManifestLine(path: url.path, line: 0, reason: "cannot be read")
        }
        return data
    }

    /// Parses manifest bytes: one `ManifestEntry` JSON object a line, blank lines skipped but
    /// counted (line numbers are the file's). Throws `DataLoaderError.badManifestLine` naming
    /// `path` and the line for a line that is not an entry, and `.badManifestField` naming the
    /// field for a path that is empty, absolute or has a `..` component (it would leave the data
    /// folder) and for an entry without captions or with a blank one.
    public static func parseManifest(_ data: Data, path: String) throws -> [ManifestEntry] {
        var out = [ManifestEntry]()
        let decoder = JSONDecoder()
        for (i, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let entry: ManifestEntry
            do { entry = try decoder.decode(ManifestEntry.self, from: Data(line)) } catch {
                throw DataLoaderError.badManifestLine(path: path, line: i + 1, reason: "\(error)")
            }
            func bad(_ field: String, _ reason: String) -> DataLoaderError {
                .badManifestField(path: path, line: i + 1, field: field, reason: reason)
            }
            let shown = PathText.escapeControls(entry.path)
            if entry.path.isEmpty { throw bad("path", "is empty") }
            if entry.path.hasPrefix("/") { throw bad("path", "\"\(shown)\" is absolute; paths are relative to the data folder") }
            if entry.path.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
                throw bad("path", "\"\(shown)\" has a \"..\" component; paths must stay inside the data folder")
            }
            if entry.captions.isEmpty { throw bad("captions", "is empty; every entry needs at least one caption") }
            if let k = entry.captions.firstIndex(where: { $0.allSatisfy(\.isWhitespace) }) {
                throw bad("captions[\(k)]", "is empty")
            }
            out.append(entry)
        }
        return out
    }
}
