import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a walk over the user's paths found.
public struct WalkResult: Sendable {
    /// Files that look like images we can decode (by magic bytes, or by extension when unreadable).
    public var images: [URL] = []
    /// Files skipped as not images, with the reason (reported at the end of an ingest, never fatal).
    public var skipped: [(path: String, reason: String)] = []
}

/// Walks files and folders recursively, following symbolic links but never into a loop
/// (directories are identified by device and inode), in a stable (sorted) order.
public struct FolderWalker: Sendable {
    /// Whether `path` is `root` itself or lies under the folder `root`.
    public static func path(_ path: String, isUnder root: String) -> Bool {
        path == root || path.hasPrefix(root.hasSuffix("/") ? root : root + "/")
    }

    /// Extensions that claim to be images we decode; a file so named that fails to decode is reported.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "jpe", "jfif", "png"]
    /// Extensions of image formats Kestrel does not decode: skipped with a reason.
    public static let unsupportedImageExtensions: Set<String> = ["gif", "webp", "bmp", "tif", "tiff", "heic", "avif"]

    public init() {}

    public func walk(_ roots: [URL]) -> WalkResult {
        var result = WalkResult()
        var visited = Set<DirectoryID>()
        for root in roots { visit(root.standardizedFileURL, &visited, &result) }
        return result
    }

    private struct DirectoryID: Hashable { let device: UInt64; let inode: UInt64 }

    private func visit(_ url: URL, _ visited: inout Set<DirectoryID>, _ result: inout WalkResult) {
        var st = stat()
        guard stat(url.path, &st) == 0 else {
            result.skipped.append((url.path, "cannot stat: \(String(cString: strerror(errno)))"))
            return
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            let id = DirectoryID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
            guard visited.insert(id).inserted else { return }  // a symlink loop or a second route in
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: url.path) } catch {
                result.skipped.append((url.path, "cannot list folder: \(error.localizedDescription)"))
                return
            }
            for name in names.sorted() where !name.hasPrefix(".") {
                visit(url.appendingPathComponent(name), &visited, &result)
            }
            return
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return }
        let ext = url.pathExtension.lowercased()
        switch FolderWalker.sniff(url) {
        case .jpeg?, .png?:
            result.images.append(url)
        case .other(let format)?:
            result.skipped.append((url.path, "unsupported image format \(format)"))
        case nil:
            if FolderWalker.imageExtensions.contains(ext) {
                result.images.append(url)  // named like an image: let the decoder report what is wrong
            } else if FolderWalker.unsupportedImageExtensions.contains(ext) {
                result.skipped.append((url.path, "unsupported image format .\(ext)"))
            }
            // anything else is not an image: skipped silently
        }
    }

    enum Sniffed: Equatable { case jpeg, png, other(String) }

    /// The format from the first bytes, or nil when the bytes say nothing we know.
    static func sniff(_ url: URL) -> Sniffed? {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return nil }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 12)) ?? Data())
        func starts(_ bytes: [UInt8]) -> Bool { head.count >= bytes.count && Array(head.prefix(bytes.count)) == bytes }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(Array("GIF8".utf8)) { return .other("GIF") }
        if starts(Array("RIFF".utf8)) && head.count >= 12 && Array(head[8..<12]) == Array("WEBP".utf8) { return .other("WebP") }
        if starts(Array("BM".utf8)) && FolderWalker.unsupportedImageExtensions.contains(url.pathExtension.lowercased()) { return .other("BMP") }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .other("TIFF") }
        return nil
    }
}
