import Foundation

/// Writes a safetensors file (used for adapters and by tests that build checkpoints).
public enum SafeTensorsWriter {
    public enum DType: String, Sendable { case f32 = "F32", f16 = "F16", bf16 = "BF16" }

    public struct Item: Sendable {
        public var name: String
        public var shape: [Int]
        public var values: [Float]
        public var dtype: DType
        public init(_ name: String, shape: [Int], values: [Float], dtype: DType = .f32) {
            self.name = name; self.shape = shape; self.values = values; self.dtype = dtype
        }
    }

    public static func encode(_ items: [Item], metadata: [String: String] = [:]) -> Data {
        var payload = Data()
        var header: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.sorted { $0.key < $1.key }.map { "\(quote($0.key)):\(quote($0.value))" }
            header.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        for item in items {
            precondition(item.shape.reduce(1, *) == item.values.count, "\(item.name): shape \(item.shape) vs \(item.values.count) values")
            let begin = payload.count
            switch item.dtype {
            case .f32:
                for v in item.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { payload.append(contentsOf: $0) } }
            case .f16:
                for v in item.values { withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { payload.append(contentsOf: $0) } }
            case .bf16:
                for v in item.values {
                    // Round to nearest even, as torch does when casting to bfloat16.
                    let bits = v.bitPattern
                    let rounded = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
                    withUnsafeBytes(of: rounded.littleEndian) { payload.append(contentsOf: $0) }
                }
            }
            header.append("\(quote(item.name)):{\"dtype\":\"\(item.dtype.rawValue)\",\"shape\":[\(item.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(begin),\(payload.count)]}")
        }
        var json = Data("{\(header.joined(separator: ","))}".utf8)
        while json.count % 8 != 0 { json.append(0x20) }  // pad so the payload starts aligned
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(payload)
        return out
    }

    public static func write(_ items: [Item], to url: URL, metadata: [String: String] = [:]) throws {
        try encode(items, metadata: metadata).write(to: url, options: .atomic)
    }

    private static func quote(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
