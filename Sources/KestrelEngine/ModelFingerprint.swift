import Foundation
import KestrelStore
import KestrelFiles

/// The identity of the model that made a catalog's vectors: the folder's name, and a SHA-256 over
/// the config, the preprocessing config and the weights, so vectors of two models never mix.
/// Hashing a 600 MB checkpoint takes seconds, so results are cached per (path, size, mtime)
/// in `~/.cache/kestrel/fingerprints.tsv` (or $KESTREL_CACHE).
public enum ModelFingerprint {
    public static func identity(of model: CLIPModel) throws -> ModelIdentity {
        ModelIdentity(name: model.directory.standardizedFileURL.lastPathComponent,
                      fingerprint: try fingerprint(of: model),
                      dimension: model.config.embedDim)
    }

    public static func fingerprint(of model: CLIPModel) throws -> String {
        var files = [model.configURL, model.weightsURL]
        let pre = model.directory.appendingPathComponent("preprocessor_config.json")
        if FileManager.default.fileExists(atPath: pre.path) { files.append(pre) }
        var parts: [String] = []
        for file in files { parts.append(try cachedDigest(file)) }
        return "sha256:" + SHA256.hex(SHA256.hash(Array(parts.joined(separator: "\n").utf8)))
    }

    static func cacheFile() -> URL {
        let env = ProcessInfo.processInfo.environment
        let base = env["KESTREL_CACHE"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: env["HOME"] ?? NSTemporaryDirectory()).appendingPathComponent(".cache/kestrel")
        return base.appendingPathComponent("fingerprints.tsv")
    }

    static func cachedDigest(_ file: URL) throws -> String {
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
        let mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let key = "\(file.standardizedFileURL.path)\t\(size)\t\(mtime)"
        let cache = cacheFile()
        if let text = try? String(contentsOf: cache, encoding: .utf8) {
            for line in text.split(separator: "\n") where line.hasPrefix(key + "\t") {
                return String(line.dropFirst(key.count + 1))
            }
        }
        let digest = try SHA256.hexDigest(ofFileAt: file)
        // Best effort: a cache that cannot be written only costs time.
        try? FileManager.default.createDirectory(at: cache.deletingLastPathComponent(), withIntermediateDirectories: true)
        if let handle = try? FileHandle(forWritingTo: cache) {
            handle.seekToEndOfFile(); handle.write(Data("\(key)\t\(digest)\n".utf8)); try? handle.close()
        } else {
            try? Data("\(key)\t\(digest)\n".utf8).write(to: cache)
        }
        return digest
    }
}
