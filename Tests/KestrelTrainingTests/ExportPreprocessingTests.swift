import Foundation
import KestrelImage
import KestrelKernels
import KestrelModels
import KestrelTestSupport
@testable import KestrelTraining
import XCTest

/// An exported model resizes with the filter its training resized with (Pillow's BILINEAR), so
/// inference sees pictures as training did (before: CLIP's bicubic, 0.5 points lower top-1 on
/// Fashion-MNIST for the default model).
final class ExportPreprocessingTests: XCTestCase {
    func testExportedPreprocessorResizesBilinearLikeTheTrainer() throws {
        let config = CLIPConfig(imageSize: 16, patchSize: 8,
                                vision: TowerConfig(width: 8, layers: 1, heads: 2, mlpWidth: 16, activation: "quick_gelu", layerNormEps: 1e-5),
                                vocabSize: 520, contextLength: 8,
                                text: TowerConfig(width: 8, layers: 1, heads: 2, mlpWidth: 16, activation: "quick_gelu", layerNormEps: 1e-5),
                                endTokenID: 519, embedDim: 8)
        let params = CLIPInitializer.random(config: config, seed: 1)
        let vocab = try Vocabulary.clip(merges: 6, bpeGzip: Fixtures.repoRoot.appendingPathComponent("Vocab/bpe_simple_vocab_16e6.txt.gz"))
        let out = Fixtures.temporaryDirectory("export-pre").appendingPathComponent("m")
        try ModelExport.saveHuggingFace(parameters: params, config: config, to: out, dtype: .f32, vocabulary: vocab)
        let pre = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("preprocessor_config.json"))) as! [String: Any]
        XCTAssertEqual(pre["resample"] as? Int, 2)
    }
}
