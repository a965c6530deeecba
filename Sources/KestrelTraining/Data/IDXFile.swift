import Foundation
import KestrelTokenizer

/// An idx file (LeCun's MNIST format, used by Fashion-MNIST): magic 0x00 0x00 <type> <ndims>,
/// ndims big-endian UInt32 sizes, then the data. Only type 0x08 (unsigned byte) is read.
public struct IDXFile: Sendable {
    /// Sizes per dimension: [count] for labels, [count, rows, cols] for images.
    public var dimensions: [Int]
    /// The samples, row-major, product(dimensions) bytes.
    public var data: [UInt8]

    /// Parses decompressed idx bytes. `expectedDimensions` is 1 (labels) or 3 (images).
    /// Throws `DataBuildError.damaged` naming `name` on a wrong magic number, dimension count or size.
    public static func parse(_ bytes: [UInt8], name: String, expectedDimensions: Int) throws -> IDXFile {
        guard bytes.count >= 4 else { throw DataBuildError.damaged(path: name, detail: "idx: only \(bytes.count) bytes") }
        guard bytes[0] == 0, bytes[1] == 0, bytes[2] == 0x08 else {
            let magic = bytes[0..<4].map { String(format: "%02x", $0) }.joined()
            throw DataBuildError.damaged(path: name, detail: "idx: magic number 0x\(magic), expected 0x000008\(String(format: "%02x", expectedDimensions)) (unsigned bytes)")
        }
        let n = Int(bytes[3])
        guard n == expectedDimensions else {
            throw DataBuildError.damaged(path: name, detail: "idx: \(n) dimensions, expected \(expectedDimensions)")
        }
        let header = 4 + 4 * n
        guard bytes.count >= header else { throw DataBuildError.damaged(path: name, detail: "idx: header truncated") }
        var dims = [Int]()
        var total = 1
        for d in 0..<n {
            let o = 4 + 4 * d
            let v = Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
            dims.append(v)
            total = total.multipliedReportingOverflow(by: v).partialValue
            guard total <= bytes.count else { break }
        }
        guard bytes.count - header == total else {
            throw DataBuildError.damaged(path: name, detail: "idx: sizes \(dims) need \(total) data bytes, file has \(bytes.count - header)")
        }
        return IDXFile(dimensions: dims, data: Array(bytes[header...]))
    }

    /// The most bytes an idx file may decompress to (Fashion-MNIST's largest is 47 MB).
    public static let byteLimit = 256 << 20

    /// Reads and parses a gzipped idx file.
    public static func read(gzipPath path: String, package: String, expectedDimensions: Int) throws -> IDXFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataBuildError.missingSource(package: package, path: path)
        }
        let raw: [UInt8]
        do { raw = try GzipFile.gunzip([UInt8](data), name: path, limit: IDXFile.byteLimit) } catch TokenizerError.corruptGzip(_, let detail) {
            throw DataBuildError.damaged(path: path, detail: "gzip: \(detail)")
        }
        return try parse(raw, name: path, expectedDimensions: expectedDimensions)
    }

    /// Builds idx bytes (for tests and tools).
    public static func encode(dimensions: [Int], data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
        for d in dimensions { out += [UInt8(truncatingIfNeeded: d >> 24), UInt8(truncatingIfNeeded: d >> 16), UInt8(truncatingIfNeeded: d >> 8), UInt8(truncatingIfNeeded: d)] }
        return out + data
    }
}
