import Foundation
import KestrelTestSupport
import KestrelTokenizer
import XCTest

/// Strings found by an independent fuzz run against open_clip (ids from `SimpleTokenizer().encode`).
/// U+001A (SUBSTITUTE) must survive ftfy's latin-1 -> windows-1252 step unchanged.
final class MojibakeRegressionTests: XCTestCase {
    func testSubstituteCharacterInLatin1Text() throws {
        let tok = try CLIPTokenizer(bpeGzip: Fixtures.repoRoot.appendingPathComponent("Vocab/bpe_simple_vocab_16e6.txt.gz"))
        let cases: [(String, [Int])] = [
            ("caf\u{C3}\u{A9}\u{1A}", [15304]),
            ("\u{16}\u{B3}\u{C4}\u{1A}\u{B8}b\u{CC}j", [126, 367, 47276, 126, 372, 65, 127, 105, 329]),
            ("\u{B8}L\u{0E}d$:\u{1A}", [126, 372, 730, 3, 281]),
            ("na\u{EF}ve\u{1A} \u{80}", [1097, 35689, 563, 6309]),
        ]
        for (text, ids) in cases {
            XCTAssertEqual(tok.encode(text), ids, text.debugDescription)
        }
    }

    func testModelDirectoryFallbackVocabularyLabel() throws {
        let gz = Fixtures.repoRoot.appendingPathComponent("Vocab/bpe_simple_vocab_16e6.txt.gz")
        let empty = Fixtures.temporaryDirectory("kestrel-tokenizer-label")
        defer { try? FileManager.default.removeItem(at: empty) }
        let tok = try CLIPTokenizer(modelDirectory: empty, fallbackVocabulary: gz)
        XCTAssertEqual(tok.vocabularySize, 49408)
    }
}
