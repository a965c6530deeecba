import KestrelFiles

/// A file the caller asked about that was not used, and why (the reason does not repeat the path).
public struct FileProblem: Sendable, Equatable {
    public var path: FilePathBytes
    public var reason: String
    public init(path: FilePathBytes, reason: String) { self.path = path; self.reason = reason }
}

/// What a walk over the user's paths found.
public struct WalkResult: Sendable {
    /// Files that look like images we can decode (by magic bytes, or by extension when unreadable).
    public var images: [FilePathBytes] = []
    /// Files met inside folders and skipped as not usable images, with the reason (reported,
    /// never fatal): unsupported formats, FIFOs or devices named like images, dangling links.
    public var skipped: [FileProblem] = []
    /// Inputs that failed (the CLI exits 1): paths given by the caller that cannot be used at all
    /// (missing, a FIFO or device, a file that is not a JPEG or PNG image), and folders or
    /// names met in the walk that could not be looked at (an unreadable folder, a path longer
    /// than the system's limit), whose images may be missing from the result.
    public var failed: [FileProblem] = []
}

/// Walks files and folders recursively, following symbolic links but never into a loop
/// (directories are identified by device and inode), in a stable (bytewise sorted) order.
/// Paths are bytes throughout (see `FilePathBytes`); the roots are standardised first
/// (absolute, without `.` and `..`), so found paths are what the store keeps.
public struct FolderWalker: Sendable {
    /// Extensions that claim to be images we decode; a file so named that fails to decode is reported.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "jpe", "jfif", "png"]
    /// Extensions of image formats Kestrel does not decode: skipped with a reason.
    public static let unsupportedImageExtensions: Set<String> = ["gif", "webp", "bmp", "tif", "tiff", "heic", "avif"]

    public init() {}

    public func walk(_ roots: [FilePathBytes]) -> WalkResult {
        var result = WalkResult()
        var visited = Set<DirectoryID>()
        for root in roots { visit(root.standardized(), isRoot: true, &visited, &result) }
        return result
    }

    private struct DirectoryID: Hashable { let device: UInt64; let inode: UInt64 }

    private func visit(_ path: FilePathBytes, isRoot: Bool, _ visited: inout Set<DirectoryID>, _ result: inout WalkResult) {
        let ext = path.pathExtension
        let namedLikeImage = FolderWalker.imageExtensions.contains(ext) || FolderWalker.unsupportedImageExtensions.contains(ext)
        func problem(_ reason: String) {
            if isRoot { result.failed.append(FileProblem(path: path, reason: reason)) }
            else { result.skipped.append(FileProblem(path: path, reason: reason)) }
        }
        func failure(_ reason: String) { result.failed.append(FileProblem(path: path, reason: reason)) }
        let status: FileStatus
        do { status = try FileSystem.status(path) } catch FileError.notFound {
            problem(FileError.notFound(path: path).reason); return  // inside a walk: a dangling link
        } catch let e as FileError {
            failure(e.reason); return  // a name too long, no permission: what it holds is unknown
        } catch { failure("\(error)"); return }

        switch status.kind {
        case .directory:
            let id = DirectoryID(device: status.device, inode: status.inode)
            guard visited.insert(id).inserted else { return }  // a symlink loop or a second route in
            let names: [[UInt8]]
            do { names = try FileSystem.listDirectory(path) } catch let e as FileError {
                failure(e.reason); return  // its images cannot be found: a failed input at any depth
            } catch { failure("\(error)"); return }
            for name in names.sorted(by: { $0.lexicographicallyPrecedes($1) }) where name.first != 0x2E {  // no dot files
                visit(path.appending(name), isRoot: false, &visited, &result)
            }
        case .regular:
            switch FolderWalker.sniff(path) {
            case .jpeg?, .png?:
                result.images.append(path)
            case .other(let format)?:
                problem("unsupported image format \(format); Kestrel reads JPEG and PNG images")
            case nil:
                if FolderWalker.imageExtensions.contains(ext) {
                    result.images.append(path)  // named like an image: let the decoder report what is wrong
                } else if FolderWalker.unsupportedImageExtensions.contains(ext) {
                    problem("unsupported image format .\(ext); Kestrel reads JPEG and PNG images")
                } else if isRoot {
                    problem("not a JPEG or PNG image")  // the user named it: say so
                }
                // anything else met in a folder is not an image: skipped silently
            }
        default:
            // A FIFO, device or socket: never opened (reading one could block or never end).
            // Said when the user named it or it is named like an image; otherwise not an image.
            if isRoot || namedLikeImage { problem(FileError.notRegularFile(path: path, kind: status.kind).reason) }
        }
    }

    enum Sniffed: Equatable { case jpeg, png, other(String) }

    /// The format from the first bytes, or nil when the bytes say nothing we know.
    static func sniff(_ path: FilePathBytes) -> Sniffed? {
        guard let head = try? FileSystem.readHead(path, count: 12) else { return nil }
        func starts(_ bytes: [UInt8]) -> Bool { head.count >= bytes.count && Array(head.prefix(bytes.count)) == bytes }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(Array("GIF8".utf8)) { return .other("GIF") }
        if starts(Array("RIFF".utf8)) && head.count >= 12 && Array(head[8..<12]) == Array("WEBP".utf8) { return .other("WebP") }
        if starts(Array("BM".utf8)) && FolderWalker.unsupportedImageExtensions.contains(path.pathExtension) { return .other("BMP") }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .other("TIFF") }
        return nil
    }
}
