/// Byte-level BPE over vocabulary ids: each UTF-8 byte starts as its own symbol (the last one
/// with `</w>`), then the adjacent pair with the lowest merge rank is merged everywhere, left to
/// right, until no ranked pair is left (OpenAI's `bpe()`).

/// GPT-2's reversible byte -> printable-character table (`bytes_to_unicode`).
enum ByteLevel {
    /// The 256 symbols in `bytes_to_unicode()` order (printable bytes first): the vocabulary's first ids.
    static let vocabularyOrder: [String] = {
        var bs = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        for b in 0..<256 where !bs.contains(b) { bs.append(b) }
        return bs.map { symbols[$0] }
    }()

    /// The symbol for each byte value.
    static let symbols: [String] = {
        var bs = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) {
            bs.append(b)
            cs.append(256 + n)
            n += 1
        }
        var table = [String](repeating: "", count: 256)
        for (b, c) in zip(bs, cs) { table[b] = String(Unicode.Scalar(UInt32(c))!) }
        return table
    }()
}

struct BPEModel: Sendable {
    private struct Merge: Sendable {
        var rank: Int32
        var result: Int32
    }

    private let byteIds: [Int32]
    private let byteEndIds: [Int32]
    private let merges: [UInt64: Merge]

    init(encoder: [String: Int], merges pairs: [(String, String)], path: String) throws {
        func id(_ token: String, line: Int) throws -> Int32 {
            guard let id = encoder[token] else {
                throw TokenizerError.malformedMerges(path: path, line: line, reason: "token \"\(token)\" is not in the vocabulary")
            }
            return Int32(id)
        }
        byteIds = try ByteLevel.symbols.map { try id($0, line: 0) }
        byteEndIds = try ByteLevel.symbols.map { try id($0 + "</w>", line: 0) }
        var table = [UInt64: Merge](minimumCapacity: pairs.count)
        for (rank, (a, b)) in pairs.enumerated() {
            let line = rank + 2
            let key = Self.key(try id(a, line: line), try id(b, line: line))
            table[key] = Merge(rank: Int32(rank), result: try id(a + b, line: line))  // later duplicates win
        }
        merges = table
    }

    @inline(__always)
    private static func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(a)) << 32 | UInt64(UInt32(b)) }

    /// Vocabulary ids of one pre-token, given as UTF-8 bytes.
    func encodeWord(_ bytes: [UInt8]) -> [Int] {
        guard !bytes.isEmpty else { return [] }
        var word = bytes.map { byteIds[Int($0)] }
        word[word.count - 1] = byteEndIds[Int(bytes[bytes.count - 1])]
        while word.count > 1 {
            var best: Merge? = nil
            var bestKey: UInt64 = 0
            for i in 0..<(word.count - 1) {
                let k = Self.key(word[i], word[i + 1])
                if let m = merges[k], best == nil || m.rank < best!.rank {
                    best = m
                    bestKey = k
                }
            }
            guard let merge = best else { break }
            let first = Int32(truncatingIfNeeded: bestKey >> 32), second = Int32(truncatingIfNeeded: bestKey)
            var merged = [Int32]()
            merged.reserveCapacity(word.count)
            var i = 0
            while i < word.count {
                if i + 1 < word.count && word[i] == first && word[i + 1] == second {
                    merged.append(merge.result)
                    i += 2
                } else {
                    merged.append(word[i])
                    i += 1
                }
            }
            word = merged
        }
        return word.map(Int.init)
    }
}
