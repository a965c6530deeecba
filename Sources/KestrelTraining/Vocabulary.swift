import Foundation
import KestrelTokenizer

/// A CLIP vocabulary cut down to the first `n` merges of OpenAI's merge list, built exactly as
/// CLIP's `simple_tokenizer.py` builds the full one:
///   ids 0..<256        the 256 byte symbols in `bytes_to_unicode()` order
///   ids 256..<512      the same with `</w>`
///   ids 512..<512+n    one token per merge (the two symbols joined)
///   then <|startoftext|>, <|endoftext|>
/// so `vocab.json` + `merges.txt` are read unchanged by transformers' CLIPTokenizer and by
/// Kestrel's `CLIPTokenizer(vocabJSON:merges:)` (Tests/Fixtures/models/hf-tiny: n = 1000, 1514 ids).
public struct Vocabulary: Sendable, Equatable {
    /// Token strings in id order. [count]
    public let tokens: [String]
    /// The merges in rank order, as "left right" lines.
    public let merges: [String]

    public var count: Int { tokens.count }
    public var startToken: Int { count - 2 }
    public var endToken: Int { count - 1 }
    /// Most merges OpenAI's list holds (the full vocabulary is 49,408 ids).
    public static let maxMerges = 49152 - 256 - 2

    /// The first `merges` merges of `bpeGzip` (Vocab/bpe_simple_vocab_16e6.txt.gz).
    /// Throws `TokenizerError` if the file is unreadable or malformed, or `merges` is out of 0...maxMerges.
    public static func clip(merges n: Int, bpeGzip url: URL) throws -> Vocabulary {
        guard (0...maxMerges).contains(n) else {
            throw TokenizerError.malformedMerges(path: url.path, line: 0,
                                                 reason: "\(n) merges asked for; 0...\(maxMerges) available")
        }
        let bytes = try GzipFile.read(url)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw TokenizerError.notUTF8(path: url.path) }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > n else {
            throw TokenizerError.malformedMerges(path: url.path, line: lines.count, reason: "fewer than \(n) merges")
        }
        var merges: [String] = [], joined: [String] = []
        for (i, line) in lines[1..<(n + 1)].enumerated() {   // line 0 is the version header
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2 else {
                throw TokenizerError.malformedMerges(path: url.path, line: i + 2, reason: "expected two symbols, got \"\(line)\"")
            }
            merges.append("\(parts[0]) \(parts[1])")
            joined.append(String(parts[0] + parts[1]))
        }
        let bytesOrder = byteSymbols()
        let tokens = bytesOrder + bytesOrder.map { $0 + "</w>" } + joined + ["<|startoftext|>", "<|endoftext|>"]
        return Vocabulary(tokens: tokens, merges: merges)
    }

    /// GPT-2's `bytes_to_unicode()` symbols in its order (printable bytes first, then 256 + k).
    static func byteSymbols() -> [String] {
        let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var characters = printable, extra = 0
        for b in 0..<256 where !printable.contains(b) { characters.append(256 + extra); extra += 1 }
        return characters.map { String(Character(Unicode.Scalar(UInt32($0))!)) }
    }

    /// `vocab.json`: {token: id} in id order, UTF-8, no ASCII escaping (as CLIP's files).
    public func vocabJSON() -> Data {
        var out = "{"
        for (id, token) in tokens.enumerated() {
            if id > 0 { out += ", " }
            out += Self.quoted(token) + ": " + String(id)
        }
        return Data((out + "}").utf8)
    }

    /// `merges.txt`: the `#version: 0.2` header, then one merge per line.
    public func mergesText() -> Data {
        Data((["#version: 0.2"] + merges).map { $0 + "\n" }.joined().utf8)
    }

    /// Writes `vocab.json` and `merges.txt` into `folder`.
    public func write(to folder: URL) throws {
        try vocabJSON().write(to: folder.appendingPathComponent("vocab.json"))
        try mergesText().write(to: folder.appendingPathComponent("merges.txt"))
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
