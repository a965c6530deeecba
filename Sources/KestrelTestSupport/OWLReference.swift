import Foundation

/// The reference a fixture folder carries (`Notebooks/fixtures/owl_fixtures.py`, transformers 5.24,
/// fixed seed): see the script's docstring for the schema.
public struct OWLReference: Decodable, Sendable {
    public struct Detection: Decodable, Sendable { public let label: Int; public let score: Float; public let box: [Double] }
    public struct Guided: Decodable, Sendable {
        public let query_index: Int; public let logits: [Float]; public let pred_boxes: [Float]; public let threshold: Float
        public let detections: [Detection]
    }
    public struct Image: Decodable, Sendable {
        public let file: String; public let width: Int; public let height: Int; public let pixels: String
        public let logits: [Float]; public let pred_boxes: [Float]; public let objectness_logits: [Float]?
        public let threshold: Float; public let detections: [Detection]; public let guided: Guided
    }
    public struct QueryImage: Decodable, Sendable { public let file: String; public let width: Int; public let height: Int; public let pixels: String }
    public let model: String; public let kind: String; public let image_size: Int; public let patch_size: Int
    public let texts: [String]; public let ids: [[Int]]; public let images: [Image]; public let query_image: QueryImage

    /// `root` holds `<model>.reference.json`, the folder and `owl-images/`.
    public static func load(_ root: URL, _ model: String) throws -> OWLReference {
        try JSONDecoder().decode(OWLReference.self, from: Data(contentsOf: root.appendingPathComponent("\(model).reference.json")))
    }

    /// A float32 little-endian pixel file, relative to `root`.
    public static func floats(_ root: URL, _ path: String) throws -> [Float] {
        let data = try Data(contentsOf: root.appendingPathComponent(path))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// Token ids up to and including the end token (the processor pads with 0 after it).
    public var unpaddedIDs: [[Int]] { ids.map { row in Array(row.prefix(through: row.firstIndex(of: row.max()!)!)) } }
}
