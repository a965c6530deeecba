import CZlib
import Foundation

/// Gzip decompression with zlib (`inflateInit2` in gzip mode), the one in Kestrel: the tokenizer's
/// merge list and the data builder's Fashion-MNIST idx files both come through here (this module is
/// the only one that imports CZlib).
public enum GzipFile {
    /// The most decompressed bytes `read` and `gunzip` return by default (the largest file read,
    /// Fashion-MNIST's training images, is 47 MB).
    public static let defaultLimit = 512 << 20

    /// Reads a whole gzip file into memory, decompressed (at most `limit` bytes).
    public static func read(_ url: URL, limit: Int = defaultLimit) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TokenizerError.missingFile(path: url.path)
        }
        return try gunzip([UInt8](data), name: url.path, limit: limit)
    }

    /// Decompresses a gzip stream held in memory. Throws `TokenizerError.corruptGzip` naming
    /// `name` for a bad or truncated stream, or one that decompresses to more than `limit` bytes
    /// (checked as it inflates, so a small hostile file cannot take all memory).
    public static func gunzip(_ input: [UInt8], name: String, limit: Int = defaultLimit) throws -> [UInt8] {
        var stream = z_stream()
        // 16 + MAX_WBITS: expect a gzip header and trailer.
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw TokenizerError.corruptGzip(path: name, detail: "zlib could not start decompressing (out of memory?)")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        output.reserveCapacity(min(limit, input.count * 4))
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        var input = input
        var status: Int32 = Z_OK, tooLarge = false
        input.withUnsafeMutableBufferPointer { inBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = uInt(inBuf.count)
            repeat {
                chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = uInt(outBuf.count)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    let produced = outBuf.count - Int(stream.avail_out)
                    if output.count + produced > limit { tooLarge = true; return }
                    output.append(contentsOf: outBuf[0..<produced])
                }
            } while !tooLarge && status == Z_OK && (stream.avail_in > 0 || stream.avail_out == 0)
        }
        if tooLarge {
            throw TokenizerError.corruptGzip(path: name, detail: "decompresses to more than \(limit) bytes")
        }
        guard status == Z_STREAM_END else {
            let message = stream.msg.map { String(cString: $0) } ?? (status == Z_OK ? "truncated stream" : "zlib error \(status)")
            throw TokenizerError.corruptGzip(path: name, detail: message)
        }
        return output
    }
}
