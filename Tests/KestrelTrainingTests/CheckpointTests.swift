import Foundation
import KestrelKernels
import KestrelModels
import KestrelTestSupport
import KestrelTokenizer
import XCTest
@testable import KestrelTraining

/// CheckpointIO, ModelExport, Vocabulary and CLIPInitializer.
final class CheckpointTests: XCTestCase {
    let bpe = Fixtures.repoRoot.appendingPathComponent("Vocab/bpe_simple_vocab_16e6.txt.gz")

    func testVocabularyMatchesTheTinyFixtureByteForByte() throws {
        let vocabulary = try Vocabulary.clip(merges: 1000, bpeGzip: bpe)
        XCTAssertEqual(vocabulary.count, 1514)
        let folder = Fixtures.url("models/hf-tiny")
        XCTAssertEqual(vocabulary.vocabJSON(), try Data(contentsOf: folder.appendingPathComponent("vocab.json")))
        XCTAssertEqual(vocabulary.mergesText(), try Data(contentsOf: folder.appendingPathComponent("merges.txt")))
        // Kestrel's tokenizer reads it; the full vocabulary's ids hold for the tokens it keeps.
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try vocabulary.write(to: dir)
        let small = try CLIPTokenizer(vocabJSON: dir.appendingPathComponent("vocab.json"), merges: dir.appendingPathComponent("merges.txt"))
        XCTAssertEqual(small.vocabularySize, 1514)
        XCTAssertEqual(small.startToken, 1512)
        XCTAssertEqual(small.endToken, 1513)
        let ids = small.encode("a photo of the cat")
        XCTAssertFalse(ids.isEmpty)
        XCTAssertTrue(ids.allSatisfy { $0 < 1512 })
        XCTAssertThrowsError(try Vocabulary.clip(merges: Vocabulary.maxMerges + 1, bpeGzip: bpe))
        XCTAssertEqual(try Vocabulary.clip(merges: Vocabulary.maxMerges, bpeGzip: bpe).count, 49408)
    }

    func roundTrip(_ name: String, dtype: ModelExport.DType) throws {
        let (config, _, parameters) = try CheckpointIO.load(Fixtures.url("training/\(name)"))
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("exported")
        let vocabulary = try Vocabulary.clip(merges: 1000, bpeGzip: bpe)
        // Nudge values off the F16 grid so the F16 case really rounds.
        for i in parameters.values.indices { parameters.values[i] *= 1.000_123 }
        try ModelExport.saveHuggingFace(parameters: parameters, config: config, to: out, dtype: dtype, vocabulary: vocabulary)
        // Exporting again over the folder replaces it.
        try ModelExport.saveHuggingFace(parameters: parameters, config: config, to: out, dtype: dtype, vocabulary: vocabulary)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["exported"], "no temporary folder left")
        let (reConfig, layout, reloaded) = try CheckpointIO.load(out)
        XCTAssertEqual(layout, .huggingFace)
        XCTAssertEqual(reConfig, config)
        XCTAssertEqual(reloaded.views.map(\.name), parameters.views.map(\.name))
        var worst: Float = 0
        for (a, b) in zip(parameters.values, reloaded.values) {
            let expected = dtype == .f32 ? a : Float(Float16(a))
            XCTAssertEqual(b, expected)
            worst = max(worst, abs(a - b))
            if b != expected { break }
        }
        if dtype == .f16 { XCTAssertGreaterThan(worst, 0, "F16 export rounds") }
        // The exported folder runs in the inference engine like the original.
        let original = try CLIPModel(directory: Fixtures.url("training/\(name)"))
        let exported = try CLIPModel(directory: out)
        XCTAssertEqual(exported.config.endTokenID, original.config.endTokenID)
        let ids = [[1512, 5, 77, 1513], [1512, 1513]]
        let a = try original.encodeText(ids).data, b = try exported.encodeText(ids).data
        XCTAssertLessThan(zip(a, b).map { abs($0 - $1) }.max()!, dtype == .f32 ? 2e-3 : 2e-2)
    }

    func testExportReloadF32IsExact() throws {
        try roundTrip("hf", dtype: .f32)
        try roundTrip("openclip", dtype: .f32)
    }

    func testExportReloadF16RoundsToHalf() throws { try roundTrip("hf", dtype: .f16) }

    func testExportRefusesAWrongVocabulary() throws {
        let (config, _, parameters) = try CheckpointIO.load(Fixtures.url("training/hf"))
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try ModelExport.saveHuggingFace(parameters: parameters, config: config,
                                                             to: dir.appendingPathComponent("m"), vocabulary: try Vocabulary.clip(merges: 10, bpeGzip: bpe)))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("m").path))
    }

    func testLoadNamesAMissingTensor() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = Fixtures.url("training/hf")
        try FileManager.default.copyItem(at: src.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        try SafeTensorsWriter.write([.init("logit_scale", shape: [], values: [1])], to: dir.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try CheckpointIO.load(dir)) { error in
            XCTAssertTrue("\(error)".contains("model.safetensors"), "\(error)")
        }
    }

    func testInitializerFollowsTransformersScheme() throws {
        let config = CLIPConfig(imageSize: 64, patchSize: 16,
                                vision: TowerConfig(width: 64, layers: 3, heads: 4, mlpWidth: 256, activation: "quick_gelu"),
                                vocabSize: 600, contextLength: 16,
                                text: TowerConfig(width: 32, layers: 2, heads: 4, mlpWidth: 128, activation: "gelu"),
                                endTokenID: 599, embedDim: 24)
        let a = CLIPInitializer.random(config: config, seed: 7)
        XCTAssertEqual(a.values, CLIPInitializer.random(config: config, seed: 7).values, "deterministic")
        XCTAssertNotEqual(a.values, CLIPInitializer.random(config: config, seed: 8).values)
        func std(_ name: String) -> Double {
            let d = a.tensor(name).data.map(Double.init)
            let mean = d.reduce(0, +) / Double(d.count)
            return (d.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d.count)).squareRoot()
        }
        let expected: [(String, Double)] = [
            ("text.token", 0.02), ("text.position", 0.02), ("vision.patch", 0.02), ("vision.position", 0.02),
            ("vision.class", 1 / 8.0), ("vision.block1.qkv.weight", 1 / 8.0 / 6.0.squareRoot()),
            ("vision.block1.out.weight", 1 / 8.0), ("vision.block2.fc1.weight", 1 / 128.0.squareRoot()),
            ("vision.block0.fc2.weight", 1 / 8.0 / 6.0.squareRoot()), ("vision.projection", 1 / 8.0),
            ("text.projection", 1 / 32.0.squareRoot()), ("text.block1.fc2.weight", 1 / 32.0.squareRoot() / 2),
        ]
        for (name, s) in expected { XCTAssertEqual(std(name), s, accuracy: s * 0.2, name) }
        XCTAssertEqual(Set(a.tensor("vision.block0.norm1.weight").data), [1])
        XCTAssertEqual(Set(a.tensor("text.final.weight").data), [1])
        XCTAssertEqual(Set(a.tensor("text.block1.qkv.bias").data), [0])
        XCTAssertEqual(Set(a.tensor("vision.pre.bias").data), [0])
        XCTAssertEqual(a.tensor("logit_scale").data[0], Float(log(1 / 0.07)), accuracy: 1e-6)
    }
}

/// Writes an exported folder for the one-off check that transformers reads it unchanged
/// (`KESTREL_EXPORT_DIR=/tmp/x swift test --filter ExportForTransformers`, then
/// Notebooks/fixtures/training_fixtures.py --check-export /tmp/x). Skipped otherwise.
final class ExportForTransformersTests: XCTestCase {
    func testExportForTransformers() throws {
        guard let path = ProcessInfo.processInfo.environment["KESTREL_EXPORT_DIR"] else { throw XCTSkip("KESTREL_EXPORT_DIR not set") }
        let (config, _, parameters) = try CheckpointIO.load(Fixtures.url("training/openclip"))
        let vocabulary = try Vocabulary.clip(merges: 1000, bpeGzip: Fixtures.repoRoot.appendingPathComponent("Vocab/bpe_simple_vocab_16e6.txt.gz"))
        try ModelExport.saveHuggingFace(parameters: parameters, config: config, to: URL(fileURLWithPath: path),
                                        dtype: .f32, vocabulary: vocabulary)
    }
}
