import Foundation

/// A reference JSON written by `Notebooks/fixtures/model_fixtures.py` (schema in its docstring).
public struct ModelReference: Decodable, Sendable {
    public struct Text: Decodable, Sendable {
        public let text: String
        public let ids: [Int]
        public let raw: [Float]
        public let normalized: [Float]
    }
    public struct Image: Decodable, Sendable {
        public let file: String
        public let pixels: String
        public let raw: [Float]
        public let normalized: [Float]
    }
    public let model: String
    public let layout: String
    public let logit_scale: Float
    public let texts: [Text]
    public let images: [Image]

    /// The folder the JSON sits in; `file` and `pixels` are relative to it.
    public private(set) var base: URL = URL(fileURLWithPath: "/")

    enum CodingKeys: String, CodingKey { case model, layout, logit_scale, texts, images }

    public static func load(_ url: URL) throws -> ModelReference {
        var r = try JSONDecoder().decode(ModelReference.self, from: Data(contentsOf: url))
        r.base = url.deletingLastPathComponent()
        return r
    }

    /// The float32 little-endian pixel tensor the reference fed to the image tower.
    public func pixels(_ image: Image) throws -> [Float] {
        let data = try Data(contentsOf: base.appendingPathComponent(image.pixels))
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
    }
}
