import Foundation
import KestrelTestSupport
import KestrelTokenizer
import XCTest

/// Parity with open_clip's `SimpleTokenizer` on the strings recorded by
/// `Notebooks/fixtures/tokenizer_fixtures.py` (Debian descriptions, /usr/share names, Python
/// docstrings and a crafted set: HTML entities, mojibake, emoji, CJK, full width, ...).
final class ParityTests: XCTestCase {
    static let gzipURL = Fixtures.repoRoot.appendingPathComponent("Vocab/bpe_simple_vocab_16e6.txt.gz")
    static let shared: CLIPTokenizer = try! CLIPTokenizer.bundled(repoRoot: Fixtures.repoRoot)

    struct Case: Decodable {
        let text: String
        let ids: [Int]
    }

    static func load(_ sub: String) throws -> [Case] {
        let data = try Data(contentsOf: Fixtures.url(sub))
        let decoder = JSONDecoder()
        return try data.split(separator: UInt8(ascii: "\n")).map { try decoder.decode(Case.self, from: Data($0)) }
    }

    func testPinnedPrompt() {
        XCTAssertEqual(
            Self.shared.tokenize("a photo of an astronaut riding a horse on mars", pad: false),
            [49406, 320, 1125, 539, 550, 18376, 6765, 320, 4558, 525, 7496, 49407])
        XCTAssertEqual(Self.shared.startToken, 49406)
        XCTAssertEqual(Self.shared.endToken, 49407)
        XCTAssertEqual(Self.shared.vocabularySize, 49408)
    }

    func testAllFixtureStringsMatchOpenCLIP() throws {
        let cases = try Self.load("tokenizer/open_clip_ids.jsonl")
        XCTAssertGreaterThanOrEqual(cases.count, 3000)
        var mismatches = [String]()
        for c in cases {
            let ids = Self.shared.encode(c.text)
            if ids != c.ids { mismatches.append("\(c.text.debugDescription): got \(ids), want \(c.ids)") }
        }
        XCTAssertEqual(mismatches.count, 0, "\(mismatches.count) of \(cases.count) differ:\n" + mismatches.prefix(20).joined(separator: "\n"))
    }

    func testTruncationKeepsEndTokenLast() throws {
        let cases = try Self.load("tokenizer/open_clip_ids.jsonl").filter { $0.ids.count > 75 }
        XCTAssertFalse(cases.isEmpty)
        for c in cases.prefix(50) {
            let tokens = Self.shared.tokenize(c.text)
            XCTAssertEqual(tokens.count, 77)
            XCTAssertEqual(tokens, [49406] + c.ids.prefix(75) + [49407])
        }
        let short = Self.shared.tokenize(String(repeating: "word ", count: 100), contextLength: 16)
        XCTAssertEqual(short.count, 16)
        XCTAssertEqual(short.first, 49406)
        XCTAssertEqual(short.last, 49407)
    }

    func testPaddingWithZeros() {
        let tokens = Self.shared.tokenize("a cat")
        XCTAssertEqual(tokens.count, 77)
        XCTAssertEqual(Array(tokens.prefix(4)), [49406, 320, 2368, 49407])
        XCTAssertTrue(tokens.dropFirst(4).allSatisfy { $0 == 0 })
        XCTAssertEqual(Self.shared.tokenize("a cat", pad: false), [49406, 320, 2368, 49407])
        XCTAssertEqual(Self.shared.tokenize(""), [49406, 49407] + Array(repeating: 0, count: 75))
        XCTAssertEqual(Self.shared.tokenize(["a cat", "a dog"], contextLength: 8).map(\.count), [8, 8])
    }

    func testSpecialTokenSpellings() throws {
        // open_clip spells them <start_of_text>/<end_of_text>; OpenAI and HF <|startoftext|>/<|endoftext|>.
        XCTAssertEqual(Self.shared.encode("x <end_of_text>"), [343, 49407])
        let openAI = try CLIPTokenizer(bpeGzip: Self.gzipURL, specialTokens: .openAI)
        XCTAssertEqual(openAI.encode("x <|endoftext|>"), [343, 49407])
        XCTAssertEqual(openAI.encode("a photo"), Self.shared.encode("a photo"))
    }

    func testConcurrentUseMatchesSerial() throws {
        let texts = try Self.load("tokenizer/open_clip_ids.jsonl").prefix(400).map(\.text)
        let tokenizer = try CLIPTokenizer(bpeGzip: Self.gzipURL)
        let expected = texts.map { Self.shared.encode($0) }
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var values: [Int: [Int]] = [:]
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: texts.count * 4) { i in
            let ids = tokenizer.encode(texts[i % texts.count])
            results.lock.lock()
            results.values[i] = ids
            results.lock.unlock()
        }
        for i in 0..<(texts.count * 4) { XCTAssertEqual(results.values[i], expected[i % texts.count]) }
    }
}
