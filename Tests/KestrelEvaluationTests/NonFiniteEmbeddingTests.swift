import Foundation
import KestrelEngine
import KestrelEvaluation
import KestrelTestSupport
import XCTest

/// A model whose embeddings overflow: retrieval names each image as a failed input, and refuses
/// NaN captions with a clear error, instead of ranking NaN scores as hits. (The model layer,
/// CLIPModel, already refuses non-finite outputs; RetrievalEvaluation.run checks again, as
/// ZeroShotEvaluation does, for embedders that do not.)
final class NonFiniteEmbeddingTests: XCTestCase {
    /// The tiny fixture model with one tensor set to the largest Float (finite, so the model loads;
    /// its products overflow, so the embeddings are NaN).
    func poisonedModel(_ tensor: String) throws -> URL {
        let source = Fixtures.url("models/hf-tiny")
        let dir = Fixtures.temporaryDirectory("kestrel-nan-model").appendingPathComponent("model")
        try FileManager.default.copyItem(at: source, to: dir)
        let url = dir.appendingPathComponent("model.safetensors")
        var bytes = [UInt8](try Data(contentsOf: url))
        let n = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as! [String: Any]
        let offsets = try XCTUnwrap((header[tensor] as? [String: Any])?["data_offsets"] as? [Int])
        for o in stride(from: 8 + n + offsets[0], to: 8 + n + offsets[1], by: 4) { bytes[o..<(o + 4)] = [0xFF, 0xFF, 0x7F, 0x7F] }
        try Data(bytes).write(to: url)
        return dir
    }

    var pairs: [CaptionedImage] {
        let samples = Fixtures.repoRoot.appendingPathComponent("samples/images")
        return [("circles/red_circle.png", "a red circle"), ("squares/blue_square.jpg", "a blue square")].map {
            CaptionedImage(path: FilePathBytes(samples.appendingPathComponent($0.0).path), caption: $0.1)
        }
    }

    func testNaNImageEmbeddingsAreFailedInputs() throws {
        let embedder = try Embedder(modelDirectory: try poisonedModel("visual_projection.weight"))
        var failures: [FailedInput] = []
        XCTAssertThrowsError(try RetrievalEvaluation.run(embedder: embedder, pairs: pairs, settings: BootstrapSettings(resamples: 10, seed: 0),
                                                         failure: { failures.append($0) })) { e in
            XCTAssertTrue("\(e)".contains("nothing to evaluate"), "\(e)")
        }
        XCTAssertEqual(failures.map(\.path), pairs.map(\.path))
        XCTAssertTrue(failures.allSatisfy { $0.message.contains("image embedding is not finite") }, "\(failures)")
    }

    func testNaNCaptionEmbeddingsAreAClearError() throws {
        let embedder = try Embedder(modelDirectory: try poisonedModel("text_projection.weight"))
        XCTAssertThrowsError(try RetrievalEvaluation.run(embedder: embedder, pairs: pairs, settings: BootstrapSettings(resamples: 10, seed: 0))) { e in
            XCTAssertTrue("\(e)".contains("text embedding is not finite"), "\(e)")
        }
    }
}
