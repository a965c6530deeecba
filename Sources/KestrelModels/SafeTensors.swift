import Foundation

/// A memory-mapped safetensors file: an 8-byte little-endian header length, a JSON header
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}}`, then the raw tensor bytes.
/// Tensors are converted to float32 when read (F32, F16 and BF16 on disk).
public final class SafeTensorsFile: @unchecked Sendable {
    public struct Entry: Sendable {
        public let dtype: String
        public let shape: [Int]
        let begin: Int
        let end: Int
    }

    public let url: URL
    public let entries: [String: Entry]
    /// Free-form `__metadata__` strings.
    public let metadata: [String: String]
    private let data: Data  // mapped, not read
    private let dataStart: Int

    public init(url: URL) throws {
        self.url = url
        guard FileManager.default.fileExists(atPath: url.path) else { throw ModelError.missingFile(url) }
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw ModelError.safetensors(url, reason: "cannot read (\(error.localizedDescription))")
        }
        guard data.count >= 8 else { throw ModelError.safetensors(url, reason: "file is \(data.count) bytes, shorter than the 8-byte header length") }
        let headerLength = data.withUnsafeBytes { raw in UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self)) }
        guard headerLength > 1, headerLength <= UInt64(data.count - 8), headerLength < 100_000_000 else {
            throw ModelError.safetensors(url, reason: "header length \(headerLength) does not fit a file of \(data.count) bytes")
        }
        dataStart = 8 + Int(headerLength)
        let header = data.subdata(in: 8..<dataStart)
        guard let json = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw ModelError.safetensors(url, reason: "header is not a JSON object")
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        let payload = data.count - dataStart
        for (name, value) in json {
            if name == "__metadata__" {
                for (k, v) in value as? [String: Any] ?? [:] { metadata[k] = v as? String ?? "\(v)" }
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = (info["shape"] as? [NSNumber])?.map(\.intValue),
                  let offsets = (info["data_offsets"] as? [NSNumber])?.map(\.intValue), offsets.count == 2
            else { throw ModelError.safetensors(url, reason: "tensor \(name) has a malformed header entry") }
            guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= payload else {
                throw ModelError.safetensors(url, reason: "tensor \(name) lies outside the file (offsets \(offsets), payload \(payload) bytes): truncated?")
            }
            if let size = Self.elementSize(dtype), shape.reduce(1, *) * size != offsets[1] - offsets[0] {
                throw ModelError.safetensors(url, reason: "tensor \(name) has \(offsets[1] - offsets[0]) bytes, shape \(shape) of \(dtype) needs \(shape.reduce(1, *) * size)")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
        }
        self.entries = entries
        self.metadata = metadata
    }

    static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F32", "I32", "U32": return 4
        case "F16", "BF16", "I16", "U16": return 2
        case "F64", "I64", "U64": return 8
        case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2": return 1
        default: return nil
        }
    }

    public var names: [String] { entries.keys.sorted() }

    /// The tensor's values as float32, row-major.
    public func floats(_ name: String) throws -> [Float] {
        guard let e = entries[name] else { throw ModelError.missingTensor(file: url, name: name) }
        let count = e.shape.reduce(1, *)
        let base = dataStart + e.begin
        return try data.withUnsafeBytes { raw -> [Float] in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[base..<(dataStart + e.end)])
            switch e.dtype {
            case "F32":  // little-endian host (x86-64, arm64): a straight copy, alignment-agnostic
                return [Float](unsafeUninitializedCapacity: count) { out, n in
                    if count > 0 { UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: bytes.baseAddress!, byteCount: 4 * count) }
                    n = count
                }
            case "F16":
                return [Float](unsafeUninitializedCapacity: count) { out, n in
                    for i in 0..<count {
                        out[i] = Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                    }
                    n = count
                }
            case "BF16":
                return [Float](unsafeUninitializedCapacity: count) { out, n in
                    for i in 0..<count {
                        let high = UInt32(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                        out[i] = Float(bitPattern: high << 16)
                    }
                    n = count
                }
            default:
                throw ModelError.unsupportedDType(file: url, tensor: name, dtype: e.dtype)
            }
        }
    }

    /// The dtypes present, for `kestrel info`.
    public var dtypes: Set<String> { Set(entries.values.map(\.dtype)) }
}
