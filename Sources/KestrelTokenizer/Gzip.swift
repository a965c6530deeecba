import CZlib
import Foundation

/// Reads a whole gzip file into memory, decompressed with zlib (`inflateInit2` in gzip mode).
/// Public so that tools and tests can read the same files the tokenizer reads.
public enum GzipFile {
    public static func read(_ url: URL) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TokenizerError.missingFile(path: url.path)
        }
        return try inflate([UInt8](data), path: url.path)
    }

    static func inflate(_ input: [UInt8], path: String) throws -> [UInt8] {
        var stream = z_stream()
        // 16 + MAX_WBITS: expect a gzip header and trailer.
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw TokenizerError.corruptGzip(path: path, detail: "zlib could not start decompressing (out of memory?)")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        output.reserveCapacity(input.count * 4)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var input = input
        var status: Int32 = Z_OK
        input.withUnsafeMutableBufferPointer { inBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = uInt(inBuf.count)
            repeat {
                chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = uInt(outBuf.count)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    output.append(contentsOf: outBuf[0..<(outBuf.count - Int(stream.avail_out))])
                }
            } while status == Z_OK && (stream.avail_in > 0 || stream.avail_out == 0)
        }
        guard status == Z_STREAM_END else {
            let message = stream.msg.map { String(cString: $0) } ?? (status == Z_OK ? "truncated stream" : "zlib error \(status)")
            throw TokenizerError.corruptGzip(path: path, detail: message)
        }
        return output
    }
}
