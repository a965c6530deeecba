import Foundation

/// Checks on the files of a model folder before anything reads them: a FIFO would block the
/// reader forever, `/dev/zero` would never end, and a directory named like a file gives
/// Foundation's "You don't have permission". `stat` (which follows symbolic links) says what a
/// path is without opening it.
public enum ModelFiles {
    /// Config files (JSON) are read whole; no real one comes near this.
    static let configByteLimit = 16 << 20

    /// The files a model folder may hold, besides the config and weights the layout names.
    static let companions = ["preprocessor_config.json", "vocab.json", "merges.txt", "config.json",
                             "open_clip_config.json", "model.safetensors", "open_clip_model.safetensors"]

    /// Throws unless `url` is a regular file; returns its size in bytes.
    @discardableResult
    static func requireRegularFile(_ url: URL) throws -> Int {
        var st = stat()
        guard stat(url.path, &st) == 0 else { throw ModelError.missingFile(url) }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return Int(st.st_size)
        case S_IFDIR: throw ModelError.notARegularFile(url, kind: "a directory")
        case S_IFIFO: throw ModelError.notARegularFile(url, kind: "a FIFO (named pipe)")
        case S_IFCHR: throw ModelError.notARegularFile(url, kind: "a character device (like /dev/zero)")
        case S_IFBLK: throw ModelError.notARegularFile(url, kind: "a block device")
        case S_IFSOCK: throw ModelError.notARegularFile(url, kind: "a socket")
        default: throw ModelError.notARegularFile(url, kind: "not a file")
        }
    }

    /// The root `"model_type"` of `folder/config.json`: nil when the folder has no config.json (the
    /// open_clip layout) or the field is absent. Throws `ModelError` for a config.json that is not a
    /// regular file (a FIFO would block forever), too large, or not a JSON object.
    public static func modelType(of folder: URL) throws -> String? {
        let url = folder.appendingPathComponent("config.json")
        var st = stat()
        guard stat(url.path, &st) == 0 || lstat(url.path, &st) == 0 else { return nil }
        return try readJSONObject(url)["model_type"] as? String
    }

    /// Every known file present in `directory` is a regular file (those absent are left to the
    /// loaders, which say which one is missing).
    static func checkFolder(_ directory: URL) throws {
        for name in companions {
            let url = directory.appendingPathComponent(name)
            var st = stat()
            guard stat(url.path, &st) == 0 || lstat(url.path, &st) == 0 else { continue }
            try requireRegularFile(url)
        }
    }

    /// The bytes of a small regular file (a JSON config), refusing anything larger than `limit`.
    static func readConfig(_ url: URL, limit: Int = configByteLimit) throws -> Data {
        let size = try requireRegularFile(url)
        guard size <= limit else { throw ModelError.fileTooLarge(url, bytes: size, limit: limit) }
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw ModelError.unreadableConfig(url, reason: "cannot open it (check its permissions)")
        }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: limit + 1)) ?? Data()
        guard data.count <= limit else { throw ModelError.fileTooLarge(url, bytes: data.count, limit: limit) }
        return data
    }
}
