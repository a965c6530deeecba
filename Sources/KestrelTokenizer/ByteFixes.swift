/// ftfy's byte-level repairs applied between "encode as a single-byte codec" and "decode as
/// UTF-8": `restore_byte_a0`, `replace_lossy_sequences`, and the `utf-8-variants` decoder.
enum ByteFixes {
    typealias ByteClass = @Sendable (UInt8) -> Bool

    private static func any(_ bytes: UInt8...) -> ByteClass { { bytes.contains($0) } }
    private static func range(_ r: ClosedRange<UInt8>) -> ByteClass { { r.contains($0) } }
    /// [\x80-\x84\x86-\x9f\xa1-\xbf]
    private static let contNoSpaceLike: ByteClass = { ($0 >= 0x80 && $0 <= 0xBF) && $0 != 0x85 && $0 != 0xA0 }
    private static let cont = range(0x80...0xBF)
    private static let space = any(0x20)

    /// ALTERED_UTF8_RE.
    static let altered: [[ByteClass]] = [
        [any(0xC2, 0xC3, 0xC5, 0xCE, 0xD0, 0xD9), space],
        [any(0xE2, 0xE3), space, contNoSpaceLike],
        [range(0xE0...0xE3), contNoSpaceLike, space],
        [any(0xF0), space, cont, cont],
        [any(0xF0), cont, space, cont],
        [any(0xF0), cont, cont, space],
    ]

    /// LOSSY_UTF8_RE.
    static let lossy: [[ByteClass]] = {
        let sub = any(0x1A), subOrQ = any(0x1A, 0x3F)
        let subOrCont: ByteClass = { $0 == 0x1A || ($0 >= 0x80 && $0 <= 0xBF) }
        let subQOrCont: ByteClass = { $0 == 0x1A || $0 == 0x3F || ($0 >= 0x80 && $0 <= 0xBF) }
        return [
            [range(0xC2...0xDF), sub],
            [range(0xC2...0xC3), any(0x3F)],
            [any(0xED), range(0xA0...0xAF), subOrQ, any(0xED), range(0xB0...0xBF), subQOrCont],
            [any(0xED), range(0xA0...0xAF), subQOrCont, any(0xED), range(0xB0...0xBF), subOrQ],
            [range(0xE0...0xEF), subOrQ, subOrCont],
            [range(0xE0...0xEF), subOrCont, subOrQ],
            [range(0xF0...0xF4), subOrQ, subOrCont, subOrCont],
            [range(0xF0...0xF4), subOrCont, subOrQ, subOrCont],
            [range(0xF0...0xF4), subOrCont, subOrCont, subOrQ],
            [sub],
        ]
    }()

    /// Length of the first alternative matching at `i`, or nil.
    private static func match(_ alts: [[ByteClass]], _ b: [UInt8], _ i: Int) -> Int? {
        for alt in alts where i + alt.count <= b.count {
            var ok = true
            for (k, cls) in alt.enumerated() where !cls(b[i + k]) { ok = false; break }
            if ok { return alt.count }
        }
        return nil
    }

    static func hasAlteredUTF8(_ b: [UInt8]) -> Bool { b.indices.contains { match(altered, b, $0) != nil } }

    static func restoreByteA0(_ input: [UInt8]) -> [UInt8] {
        // A_GRAVE_WORD_RE: b"\xc3 (?! |quele|quela|quilo|s )" -> b"\xc3\xa0 "
        var b = [UInt8]()
        b.reserveCapacity(input.count + 4)
        var i = 0
        let exceptions: [[UInt8]] = [Array(" ".utf8), Array("quele".utf8), Array("quela".utf8), Array("quilo".utf8), Array("s ".utf8)]
        while i < input.count {
            if input[i] == 0xC3, i + 1 < input.count, input[i + 1] == 0x20,
               !exceptions.contains(where: { e in input.count >= i + 2 + e.count && Array(input[(i + 2)..<(i + 2 + e.count)]) == e }) {
                b += [0xC3, 0xA0, 0x20]
                i += 2
            } else {
                b.append(input[i])
                i += 1
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(b.count)
        i = 0
        while i < b.count {
            if let n = match(altered, b, i) {
                out += b[i..<(i + n)].map { $0 == 0x20 ? 0xA0 : $0 }
                i += n
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return out
    }

    static func replaceLossySequences(_ b: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            if let n = match(lossy, b, i) {
                out += [0xEF, 0xBF, 0xBD]
                i += n
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return out
    }

    /// Strict UTF-8 (Python's codec); with `variants`, also CESU-8 surrogate pairs and `C0 80`.
    static func decodeUTF8(_ input: [UInt8], variants: Bool) -> Scalars? {
        var b = input
        if variants {
            b = []
            var i = 0
            while i < input.count {
                if input[i] == 0xC0, i + 1 < input.count, input[i + 1] == 0x80 {
                    b.append(0); i += 2; continue
                }
                if i + 5 < input.count, input[i] == 0xED, (0xA0...0xAF).contains(input[i + 1]),
                   (0x80...0xBF).contains(input[i + 2]), input[i + 3] == 0xED,
                   (0xB0...0xBF).contains(input[i + 4]), (0x80...0xBF).contains(input[i + 5]) {
                    let hi = 0xD000 | (UInt32(input[i + 1] & 0x3F) << 6) | UInt32(input[i + 2] & 0x3F)
                    let lo = 0xD000 | (UInt32(input[i + 4] & 0x3F) << 6) | UInt32(input[i + 5] & 0x3F)
                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    b += [UInt8(0xF0 | (c >> 18)), UInt8(0x80 | ((c >> 12) & 0x3F)),
                          UInt8(0x80 | ((c >> 6) & 0x3F)), UInt8(0x80 | (c & 0x3F))]
                    i += 6
                    continue
                }
                b.append(input[i])
                i += 1
            }
        }
        guard let s = String(validating: b, as: UTF8.self) else { return nil }
        return s.unicodeScalars.map(\.value)
    }
}
