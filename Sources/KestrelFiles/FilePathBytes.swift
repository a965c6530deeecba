/// A file path as the bytes the file system uses. Linux file names are byte strings: they need
/// not be UTF-8 (a Latin-1 `é` is the single byte 0xE9), and two names that Swift's `String ==`
/// calls equal (`café` spelled NFC and NFD) are two different files. So paths are kept,
/// compared, hashed and sorted as bytes, and decoded only to be shown.
///
/// `description` is the path escaped for a terminal (see `escaped`); `lossyString` is the text
/// with invalid bytes as U+FFFD, for JSON next to the exact bytes.
public struct FilePathBytes: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringInterpolation {
    /// The path's bytes, without a terminating NUL.
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init<S: Sequence>(bytes: S) where S.Element == UInt8 { self.bytes = Array(bytes) }
    /// The UTF-8 bytes of `string`, exactly (no Unicode normalisation).
    public init(_ string: String) { bytes = Array(string.utf8) }
    public init(stringLiteral value: String) { self.init(value) }
    public init(stringInterpolation: DefaultStringInterpolation) { self.init(String(stringInterpolation: stringInterpolation)) }

    /// Bytewise order (the order of LMDB keys and of `ls` in the C locale).
    public static func < (a: FilePathBytes, b: FilePathBytes) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    public var isEmpty: Bool { bytes.isEmpty }
    public var isAbsolute: Bool { bytes.first == FilePathBytes.slash }

    /// The path as text when it is valid UTF-8, else nil.
    public var string: String? { String(validating: bytes, as: UTF8.self) }
    /// The path as text, each byte that is not part of valid UTF-8 shown as U+FFFD.
    public var lossyString: String { String(decoding: bytes, as: UTF8.self) }
    public var isValidUTF8: Bool { string != nil }

    public var description: String { escaped }

    // MARK: - Components

    static let slash: UInt8 = 0x2F, dot: UInt8 = 0x2E

    /// The path with `/` and `name` appended (no doubled slash after a root `/`).
    public func appending(_ name: [UInt8]) -> FilePathBytes {
        FilePathBytes(bytes.last == FilePathBytes.slash ? bytes + name : bytes + [FilePathBytes.slash] + name)
    }

    /// The path without its last component ("/a/b" -> "/a", "/a" -> "/", "a" -> ".").
    public var parent: FilePathBytes {
        var b = bytes
        while b.count > 1 && b.last == FilePathBytes.slash { b.removeLast() }
        guard let i = b.lastIndex(of: FilePathBytes.slash) else { return FilePathBytes([FilePathBytes.dot]) }
        return FilePathBytes(i == 0 ? [FilePathBytes.slash] : Array(b[..<i]))
    }

    /// The bytes after the last `/`.
    public var lastComponent: [UInt8] {
        if let i = bytes.lastIndex(of: FilePathBytes.slash) { return Array(bytes[(i + 1)...]) }
        return bytes
    }

    /// The extension of the last component (after its last `.`, not a leading one), ASCII lower-cased,
    /// or "" when there is none or it is not UTF-8.
    public var pathExtension: String {
        let name = lastComponent
        guard let i = name.lastIndex(of: FilePathBytes.dot), i > 0 else { return "" }
        return String(validating: name[(i + 1)...], as: UTF8.self)?.lowercased() ?? ""
    }

    /// Whether the bytes start with `prefix`'s bytes (no Unicode equivalence).
    public func hasPrefix(_ prefix: FilePathBytes) -> Bool {
        bytes.count >= prefix.bytes.count && bytes[..<prefix.bytes.count].elementsEqual(prefix.bytes)
    }

    /// Whether this path is `root` itself or lies under the folder `root`, bytewise.
    public func isUnder(_ root: FilePathBytes) -> Bool {
        if bytes == root.bytes { return true }
        let folder = root.bytes.last == FilePathBytes.slash ? root : FilePathBytes(root.bytes + [FilePathBytes.slash])
        return hasPrefix(folder)
    }

    /// The absolute form without `.`, `..` or repeated slashes, resolved lexically (symbolic
    /// links are not followed), as `URL.standardizedFileURL.path` gives for UTF-8 paths.
    /// A relative path is taken from `directory` (the current folder when nil).
    public func standardized(relativeTo directory: FilePathBytes? = nil) -> FilePathBytes {
        let full = isAbsolute ? bytes : (directory ?? FileSystem.currentDirectory()).bytes + [FilePathBytes.slash] + bytes
        var parts: [ArraySlice<UInt8>] = []
        for part in full.split(separator: FilePathBytes.slash, omittingEmptySubsequences: true) {
            if part.elementsEqual([FilePathBytes.dot]) { continue }
            if part.elementsEqual([FilePathBytes.dot, FilePathBytes.dot]) { _ = parts.popLast(); continue }
            parts.append(part)
        }
        var out: [UInt8] = []
        for p in parts { out.append(FilePathBytes.slash); out += p }
        return FilePathBytes(out.isEmpty ? [FilePathBytes.slash] : out)
    }

    /// Calls `body` with the path as a NUL-terminated C string; nil when the path holds a NUL
    /// byte (no file has such a name).
    public func withCString<T>(_ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T? {
        if bytes.contains(0) { return nil }
        return try (bytes + [0]).withUnsafeBufferPointer { b in
            try b.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }
}
