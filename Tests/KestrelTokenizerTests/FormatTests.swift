import Foundation
import KestrelTestSupport
import KestrelTokenizer
import XCTest

/// Hugging Face `vocab.json` + `merges.txt`, model-folder selection, and load errors.
final class FormatTests: XCTestCase {
    static let gzipURL = Fixtures.repoRoot.appendingPathComponent("Vocab/bpe_simple_vocab_16e6.txt.gz")
    static let reduced = Fixtures.url("tokenizer/hf_reduced")

    struct ReducedCase: Decodable {
        let text: String
        let ids: [Int]
        let hf_agrees: Bool
    }

    /// The first 1,000 merges only; ids recorded from open_clip's pipeline on the same merges
    /// (`hf_agrees` says whether transformers' CLIPTokenizer gave the same ids).
    func testReducedHuggingFaceVocabulary() throws {
        let tok = try CLIPTokenizer(
            vocabJSON: Self.reduced.appendingPathComponent("vocab.json"),
            merges: Self.reduced.appendingPathComponent("merges.txt"))
        XCTAssertEqual(tok.vocabularySize, 512 + 1000 + 2)
        XCTAssertEqual(tok.startToken, 1512)
        XCTAssertEqual(tok.endToken, 1513)
        let data = try Data(contentsOf: Self.reduced.appendingPathComponent("reduced_ids.jsonl"))
        let cases = try data.split(separator: UInt8(ascii: "\n")).map {
            try JSONDecoder().decode(ReducedCase.self, from: Data($0))
        }
        XCTAssertGreaterThan(cases.count, 400)
        XCTAssertGreaterThan(cases.filter(\.hf_agrees).count, 400)
        var mismatches = [String]()
        for c in cases where tok.tokenize(c.text, contextLength: 10_000, pad: false) != c.ids {
            mismatches.append(c.text.debugDescription)
        }
        XCTAssertEqual(mismatches, [])
        XCTAssertEqual(tok.encode("<|endoftext|>"), [1513])
    }

    /// vocab.json + merges.txt written from the OpenAI merges give the same ids as the gzip.
    func testFullHuggingFaceFilesMatchGzip() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-tokenizer")
        defer { try? FileManager.default.removeItem(at: dir) }
        let lines = String(decoding: try GzipFile.read(Self.gzipURL), as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false)
        let merges = lines[1..<(49152 - 256 - 2 + 1)].map(String.init)
        var vocab = bytesToUnicode()
        vocab += vocab.map { $0 + "</w>" }
        vocab += merges.map { $0.replacingOccurrences(of: " ", with: "") }
        vocab += ["<|startoftext|>", "<|endoftext|>"]
        let json = Dictionary(uniqueKeysWithValues: vocab.enumerated().map { ($1, $0) })
        try JSONSerialization.data(withJSONObject: json).write(to: dir.appendingPathComponent("vocab.json"))
        try ("#version: 0.2\n" + merges.joined(separator: "\n") + "\n")
            .write(to: dir.appendingPathComponent("merges.txt"), atomically: true, encoding: .utf8)

        let hf = try CLIPTokenizer(modelDirectory: dir, fallbackVocab: URL(fileURLWithPath: "/nonexistent.gz"))
        let gz = try CLIPTokenizer(bpeGzip: Self.gzipURL)
        XCTAssertEqual(hf.vocabularySize, 49408)
        XCTAssertEqual(hf.startToken, 49406)
        XCTAssertEqual(hf.endToken, 49407)
        let texts = [
            "a photo of an astronaut riding a horse on mars", "Ünïcödé façade — “quoted” ﬁle", "北京市 🇺🇸 I'LL",
            "https://example.com/path?q=1&r=2", "naïve café", String(repeating: "long text ", count: 60),
        ]
        for t in texts { XCTAssertEqual(hf.tokenize(t), gz.tokenize(t), t) }

        // An empty folder falls back to the gzip.
        let empty = Fixtures.temporaryDirectory("kestrel-tokenizer-empty")
        defer { try? FileManager.default.removeItem(at: empty) }
        let fallback = try CLIPTokenizer(modelDirectory: empty, fallbackVocab: Self.gzipURL)
        XCTAssertEqual(fallback.tokenize(texts[0]), gz.tokenize(texts[0]))
    }

    // MARK: errors

    func testMissingFiles() {
        let missing = URL(fileURLWithPath: "/nonexistent/bpe.txt.gz")
        XCTAssertThrowsError(try CLIPTokenizer(bpeGzip: missing)) { error in
            XCTAssertEqual(error as? TokenizerError, .missingFile(path: missing.path))
            XCTAssertTrue("\(error)".contains("/nonexistent/bpe.txt.gz"))
        }
        XCTAssertThrowsError(try CLIPTokenizer(
            vocabJSON: Self.reduced.appendingPathComponent("vocab.json"), merges: missing)) { error in
            XCTAssertEqual(error as? TokenizerError, .missingFile(path: missing.path))
        }
    }

    func testCorruptGzip() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-tokenizer")
        defer { try? FileManager.default.removeItem(at: dir) }
        let truncated = dir.appendingPathComponent("truncated.txt.gz")
        let bytes = try Data(contentsOf: Self.gzipURL)
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        let garbage = dir.appendingPathComponent("garbage.txt.gz")
        try Data("this is not gzip".utf8).write(to: garbage)
        for url in [truncated, garbage] {
            XCTAssertThrowsError(try CLIPTokenizer(bpeGzip: url)) { error in
                guard case .corruptGzip(let path, _)? = error as? TokenizerError else {
                    return XCTFail("unexpected \(error)")
                }
                XCTAssertEqual(path, url.path)
            }
        }
    }

    func testMalformedMergesNamesTheLine() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-tokenizer")
        defer { try? FileManager.default.removeItem(at: dir) }
        let merges = dir.appendingPathComponent("merges.txt")
        try "#version: 0.2\ni n\nt h e\n".write(to: merges, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CLIPTokenizer(vocabJSON: Self.reduced.appendingPathComponent("vocab.json"), merges: merges)) {
            error in
            guard case .malformedMerges(let path, let line, _)? = error as? TokenizerError else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(path, merges.path)
            XCTAssertEqual(line, 3)
        }
    }

    func testMissingSpecialToken() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-tokenizer")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try Data(contentsOf: Self.reduced.appendingPathComponent("vocab.json"))
        var vocab = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Int])
        vocab["<|startoftext|>"] = nil
        let vocabURL = dir.appendingPathComponent("vocab.json")
        try JSONSerialization.data(withJSONObject: vocab).write(to: vocabURL)
        XCTAssertThrowsError(try CLIPTokenizer(vocabJSON: vocabURL, merges: Self.reduced.appendingPathComponent("merges.txt"))) {
            error in
            XCTAssertEqual(error as? TokenizerError, .missingSpecialToken(token: "<|startoftext|>", path: vocabURL.path))
        }
        let notJSON = dir.appendingPathComponent("bad.json")
        try Data("[1, 2]".utf8).write(to: notJSON)
        XCTAssertThrowsError(try CLIPTokenizer(vocabJSON: notJSON, merges: Self.reduced.appendingPathComponent("merges.txt"))) {
            error in
            guard case .malformedVocab(let path, _)? = error as? TokenizerError else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(path, notJSON.path)
        }
    }
}

/// GPT-2's byte -> character table in `bytes_to_unicode()` order (printable bytes first).
private func bytesToUnicode() -> [String] {
    var bs = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
    var cs = bs
    var n = 0
    for b in 0..<256 where !bs.contains(b) {
        bs.append(b)
        cs.append(256 + n)
        n += 1
    }
    return cs.map { String(Unicode.Scalar(UInt32($0))!) }
}
