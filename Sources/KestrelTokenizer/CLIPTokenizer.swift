import Foundation

/// OpenAI CLIP's byte-level BPE tokenizer, id-for-id with open_clip's `SimpleTokenizer`
/// (clean = "lower") on the same merges.
///
///     let tok = try CLIPTokenizer(bpeGzip: repo.appendingPathComponent("Vocab/bpe_simple_vocab_16e6.txt.gz"))
///     tok.tokenize("a photo of a cat")  // [49406, 320, 1125, 539, 320, 2368, 49407, 0, 0, ...] (77 ids)
///
/// Thread-safe: the per-word merge cache is behind a lock.
/// Text cleaning before the split. The references disagree:
public enum TextNormalization: String, Sendable {
    /// OpenAI CLIP and open_clip: ftfy's `fix_text`, HTML unescaped twice, whitespace collapsed, Python `lower()`.
    case openAI = "openai"
    /// transformers' CLIPTokenizer (the `tokenizers` backend): NFC, whitespace runs to one space, lowercase.
    case huggingFace = "huggingface"
}

public final class CLIPTokenizer: Sendable {
    /// How special tokens are spelled when they appear inside input text (their ids are the same).
    public enum SpecialTokenSpelling: Sendable {
        /// open_clip: `<start_of_text>`, `<end_of_text>`.
        case openCLIP
        /// OpenAI CLIP and Hugging Face: `<|startoftext|>`, `<|endoftext|>`.
        case openAI

        var strings: (String, String) {
            switch self {
            case .openCLIP: return ("<start_of_text>", "<end_of_text>")
            case .openAI: return ("<|startoftext|>", "<|endoftext|>")
            }
        }
    }

    /// How text is cleaned before it is split: the references disagree, so this follows the
    /// checkpoint's ecosystem.
    public let normalization: TextNormalization

    /// Id of the start token (49406 for OpenAI's vocabulary).
    public let startToken: Int
    /// Id of the end token (49407 for OpenAI's vocabulary).
    public let endToken: Int
    /// Number of entries in the vocabulary (49408 for OpenAI's).
    public let vocabularySize: Int

    private let model: BPEModel
    private let pretokenizer: Pretokenizer
    private let specialIds: [Int]
    private let cache = WordCache()

    // MARK: loading

    /// Loads OpenAI's `bpe_simple_vocab_16e6.txt.gz` and builds the vocabulary as `simple_tokenizer.py`
    /// does: 256 byte symbols, the same with `</w>`, one token per merge, then the two specials.
    public convenience init(bpeGzip url: URL, specialTokens: SpecialTokenSpelling = .openCLIP,
                            normalization: TextNormalization = .openAI) throws {
        let bytes = try GzipFile.read(url)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw TokenizerError.notUTF8(path: url.path) }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let count = 49152 - 256 - 2
        guard lines.count > count else {
            throw TokenizerError.malformedMerges(
                path: url.path, line: lines.count, reason: "expected at least \(count + 1) lines, found \(lines.count)")
        }
        var merges = [(String, String)]()
        merges.reserveCapacity(count)
        for (index, line) in lines[1...count].enumerated() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2 else {
                throw TokenizerError.malformedMerges(
                    path: url.path, line: index + 2, reason: "expected two symbols, got \"\(line)\"")
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        var vocab = ByteLevel.vocabularyOrder
        vocab += ByteLevel.vocabularyOrder.map { $0 + "</w>" }
        vocab += merges.map { $0.0 + $0.1 }
        let (sot, eot) = specialTokens.strings
        vocab += [sot, eot]
        var encoder = [String: Int](minimumCapacity: vocab.count)
        for (id, token) in vocab.enumerated() { encoder[token] = id }  // later duplicates win, as in Python
        try self.init(encoder: encoder, merges: merges, specials: (sot, eot), path: url.path, normalization: normalization)
    }

    /// Loads Hugging Face `vocab.json` and `merges.txt` (a leading `#version` line is skipped).
    /// The special tokens `<|startoftext|>` and `<|endoftext|>` are looked up in the vocabulary.
    public convenience init(vocabJSON: URL, merges mergesURL: URL, normalization: TextNormalization = .openAI) throws {
        guard let vocabData = FileManager.default.contents(atPath: vocabJSON.path) else {
            throw TokenizerError.missingFile(path: vocabJSON.path)
        }
        guard let mergesData = FileManager.default.contents(atPath: mergesURL.path) else {
            throw TokenizerError.missingFile(path: mergesURL.path)
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: vocabData) } catch {
            throw TokenizerError.malformedVocab(path: vocabJSON.path, reason: "not valid JSON")
        }
        guard let dict = object as? [String: Any] else {
            throw TokenizerError.malformedVocab(path: vocabJSON.path, reason: "expected a JSON object of token to id")
        }
        var encoder = [String: Int](minimumCapacity: dict.count)
        for (token, value) in dict {
            guard let number = value as? NSNumber, let id = Int(exactly: number.doubleValue), id >= 0 else {
                throw TokenizerError.malformedVocab(path: vocabJSON.path, reason: "id of \"\(token)\" is not a non-negative integer")
            }
            encoder[token] = id
        }
        guard let text = String(validating: [UInt8](mergesData), as: UTF8.self) else {
            throw TokenizerError.notUTF8(path: mergesURL.path)
        }
        var merges = [(String, String)]()
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty || (index == 0 && line.hasPrefix("#version")) { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw TokenizerError.malformedMerges(
                    path: mergesURL.path, line: index + 1, reason: "expected two symbols, got \"\(line)\"")
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        try self.init(encoder: encoder, merges: merges, specials: SpecialTokenSpelling.openAI.strings, path: vocabJSON.path,
                      normalization: normalization,
                      mergesPath: mergesURL.path)
    }

    /// The OpenAI merges committed in the repository (`Vocab/bpe_simple_vocab_16e6.txt.gz`).
    public static func bundled(repoRoot: URL) throws -> CLIPTokenizer {
        try CLIPTokenizer(bpeGzip: repoRoot.appendingPathComponent("Vocab/bpe_simple_vocab_16e6.txt.gz"))
    }

    /// Uses `vocab.json` + `merges.txt` from a (Hugging Face) model folder when both are there,
    /// otherwise (neither is there) the gzipped OpenAI merges at `fallbackVocab`.
    /// Throws `TokenizerError.missingFile` naming the one that is missing when only one is there.
    public convenience init(modelDirectory: URL, fallbackVocab: URL, normalization: TextNormalization = .openAI) throws {
        let vocab = modelDirectory.appendingPathComponent("vocab.json")
        let merges = modelDirectory.appendingPathComponent("merges.txt")
        let fm = FileManager.default
        let (hasVocab, hasMerges) = (fm.fileExists(atPath: vocab.path), fm.fileExists(atPath: merges.path))
        if hasVocab != hasMerges { throw TokenizerError.missingFile(path: hasVocab ? merges.path : vocab.path) }
        if hasVocab {
            try self.init(vocabJSON: vocab, merges: merges, normalization: normalization)
        } else {
            try self.init(bpeGzip: fallbackVocab, normalization: normalization)
        }
    }

    /// The same, under the label the tokenizer brief specifies (`fallbackVocabulary:`).
    public convenience init(modelDirectory: URL, fallbackVocabulary: URL, normalization: TextNormalization = .openAI) throws {
        try self.init(modelDirectory: modelDirectory, fallbackVocab: fallbackVocabulary, normalization: normalization)
    }

    private init(encoder: [String: Int], merges: [(String, String)], specials: (String, String), path: String,
                 normalization: TextNormalization,
                 mergesPath: String? = nil) throws {
        guard let sot = encoder[specials.0] else { throw TokenizerError.missingSpecialToken(token: specials.0, path: path) }
        guard let eot = encoder[specials.1] else { throw TokenizerError.missingSpecialToken(token: specials.1, path: path) }
        self.normalization = normalization
        startToken = sot
        endToken = eot
        vocabularySize = encoder.count
        model = try BPEModel(encoder: encoder, merges: merges, path: mergesPath ?? path)
        specialIds = [sot, eot]
        pretokenizer = Pretokenizer(specials: [specials.0, specials.1].map { $0.unicodeScalars.map(\.value) })
    }

    // MARK: encoding

    /// BPE ids of the cleaned text, without start and end tokens.
    public func encode(_ text: String) -> [Int] {
        let cleaned = TextCleaning.clean(text, normalization)
        var ids = [Int]()
        ids.reserveCapacity(cleaned.count / 3 + 4)
        for piece in pretokenizer.split(cleaned) {
            switch piece {
            case .special(let index):
                ids.append(specialIds[index])
            case .text(let range):
                // Keyed by bytes, not String: String equality is canonical equivalence, and
                // "é" and "e\u{301}" are different words to BPE.
                let word = utf8(cleaned[range])
                if let cached = cache.get(word) {
                    ids += cached
                } else {
                    let wordIds = model.encodeWord(word)
                    cache.set(word, wordIds)
                    ids += wordIds
                }
            }
        }
        return ids
    }

    /// `[start] + encode(text) + [end]`, cut to `contextLength` with the end token kept last
    /// (open_clip: `tokens[:context_length]; tokens[-1] = eot`), then zero-padded when `pad`.
    public func tokenize(_ text: String, contextLength: Int = 77, pad: Bool = true) -> [Int] {
        precondition(contextLength >= 2, "contextLength must hold the start and end tokens, got \(contextLength)")
        var tokens = [startToken] + encode(text) + [endToken]
        if tokens.count > contextLength {
            tokens.removeLast(tokens.count - contextLength)
            tokens[contextLength - 1] = endToken
        }
        if pad && tokens.count < contextLength {
            tokens += repeatElement(0, count: contextLength - tokens.count)
        }
        return tokens
    }

    /// `tokenize` for several texts.
    public func tokenize(_ texts: [String], contextLength: Int = 77, pad: Bool = true) -> [[Int]] {
        texts.map { tokenize($0, contextLength: contextLength, pad: pad) }
    }
}

private func utf8(_ scalars: ArraySlice<UInt32>) -> [UInt8] {
    var bytes = [UInt8]()
    bytes.reserveCapacity(scalars.count)
    for c in scalars {
        if let s = Unicode.Scalar(c) { bytes += UTF8.encode(s)! } else { bytes += [0xEF, 0xBF, 0xBD] }
    }
    return bytes
}

/// A lock-protected word -> ids cache, cleared when it grows past `limit` entries.
private final class WordCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries = [[UInt8]: [Int]]()
    private let limit = 200_000

    func get(_ key: [UInt8]) -> [Int]? {
        lock.lock()
        defer { lock.unlock() }
        return entries[key]
    }

    func set(_ key: [UInt8], _ value: [Int]) {
        lock.lock()
        defer { lock.unlock() }
        if entries.count >= limit { entries.removeAll(keepingCapacity: true) }
        entries[key] = value
    }
}
