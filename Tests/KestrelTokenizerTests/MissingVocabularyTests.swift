import Foundation
import KestrelTestSupport
import KestrelTokenizer
import XCTest

/// Issue 6, kind 12: a model folder with vocab.json but no merges.txt (or the reverse) is a
/// missing file, named; it does not fall back to the bundled vocabulary.
final class MissingVocabularyTests: XCTestCase {
    func testKind12_OneOfVocabAndMergesMissingIsNamed() throws {
        let gzip = Fixtures.repoRoot.appendingPathComponent("Vocab/bpe_simple_vocab_16e6.txt.gz")
        for present in ["vocab.json", "merges.txt"] {
            let dir = Fixtures.temporaryDirectory("kestrel-tokenizer")
            defer { try? FileManager.default.removeItem(at: dir) }
            try FileManager.default.copyItem(at: Fixtures.url("tokenizer/hf_reduced/\(present)"), to: dir.appendingPathComponent(present))
            let absent = present == "vocab.json" ? "merges.txt" : "vocab.json"
            XCTAssertThrowsError(try CLIPTokenizer(modelDirectory: dir, fallbackVocab: gzip)) { error in
                XCTAssertEqual(error as? TokenizerError, .missingFile(path: dir.appendingPathComponent(absent).path))
            }
        }
    }
}
