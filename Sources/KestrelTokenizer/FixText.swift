import Foundation

/// The parts of `ftfy.fix_text` (ftfy 6.3.1, default configuration) that CLIP's cleaning runs:
/// HTML unescaping, mojibake repair (`fix_encoding`), C1 controls, ligatures, character width,
/// curly quotes, line breaks, terminal escapes, control characters and NFC, repeated per line
/// until nothing changes.
enum FixText {
    static func fixText(_ text: Scalars) -> Scalars {
        var out = Scalars()
        out.reserveCapacity(text.count)
        var unescapeHTML = true  // "auto": switched off for good once a line contains "<"
        var pos = 0
        while pos < text.count {
            var end = pos
            while end < text.count && text[end] != 0x0A { end += 1 }
            if end < text.count { end += 1 }  // the segment keeps its "\n"
            let segment = Array(text[pos..<end])
            if unescapeHTML && segment.contains(0x3C) { unescapeHTML = false }
            out += fixSegment(segment, unescapeHTML: unescapeHTML)
            pos = end
        }
        return out
    }

    static func fixSegment(_ segment: Scalars, unescapeHTML: Bool) -> Scalars {
        var text = segment
        while true {
            let original = text
            if unescapeHTML { text = HTMLEntities.ftfyUnescape(text) }
            text = fixEncoding(text)
            text = fixC1Controls(text)
            text = translate(text, TextTables.ligatures)
            text = translate(text, TextTables.widthMap)
            text = uncurlQuotes(text)
            text = fixLineBreaks(text)
            text = removeTerminalEscapes(text)
            text = removeControlChars(text)
            text = nfc(text)
            if text == original { return text }
        }
    }

    // MARK: simple fixers

    static func translate(_ t: Scalars, _ map: [UInt32: [Unicode.Scalar]]) -> Scalars {
        var out = Scalars()
        out.reserveCapacity(t.count)
        for c in t {
            if c >= 0x80, let r = map[c] { out += r.map(\.value) } else { out.append(c) }
        }
        return out
    }

    static func uncurlQuotes(_ t: Scalars) -> Scalars {
        t.map { c in
            if c == 0x2BC || (0x2018...0x201B).contains(c) { return 0x27 }
            if (0x201C...0x201F).contains(c) { return 0x22 }
            return c
        }
    }

    static func fixLineBreaks(_ t: Scalars) -> Scalars {
        var out = Scalars()
        out.reserveCapacity(t.count)
        var i = 0
        while i < t.count {
            let c = t[i]
            if c == 0x0D {
                out.append(0x0A)
                if i + 1 < t.count && t[i + 1] == 0x0A { i += 1 }
            } else if c == 0x2028 || c == 0x2029 || c == 0x85 {
                out.append(0x0A)
            } else {
                out.append(c)
            }
            i += 1
        }
        return out
    }

    /// `\x1b\[((?:\d|;)*)([a-zA-Z])` removed (`\d` is any Unicode decimal digit).
    static func removeTerminalEscapes(_ t: Scalars) -> Scalars {
        guard t.contains(0x1B) else { return t }
        var out = Scalars()
        var i = 0
        while i < t.count {
            if t[i] == 0x1B, i + 1 < t.count, t[i + 1] == 0x5B {
                var j = i + 2
                while j < t.count, t[j] == 0x3B || isDecimal(t[j]) { j += 1 }
                if j < t.count, Badness.asciiLetter(t[j]) { i = j + 1; continue }
            }
            out.append(t[i])
            i += 1
        }
        return out
    }

    static func isDecimal(_ c: UInt32) -> Bool {
        if c >= 0x30 && c <= 0x39 { return true }
        guard c >= 0x80, let s = Unicode.Scalar(c) else { return false }
        return s.properties.generalCategory == .decimalNumber
    }

    static func removeControlChars(_ t: Scalars) -> Scalars {
        t.filter { c in
            !(c <= 0x08 || c == 0x0B || (0x0E...0x1F).contains(c) || c == 0x7F || (0x206A...0x206F).contains(c)
                || c == 0xFEFF || (0xFFF9...0xFFFC).contains(c))
        }
    }

    static func fixC1Controls(_ t: Scalars) -> Scalars {
        guard t.contains(where: { $0 >= 0x80 && $0 <= 0x9F }) else { return t }
        let cp1252 = TextTables.sloppyWindows1252
        return t.map { ($0 >= 0x80 && $0 <= 0x9F) ? cp1252.decode[Int($0)] : $0 }
    }

    static func nfc(_ t: Scalars) -> Scalars {
        // ASCII and Latin-1 without combining marks are already NFC.
        if t.allSatisfy({ $0 < 0x300 }) { return t }
        let s = Unicode.string(t)
        return s.precomposedStringWithCanonicalMapping.unicodeScalars.map(\.value)
    }

    // MARK: fix_encoding

    static func fixEncoding(_ text: Scalars) -> Scalars {
        var text = text
        while true {
            let previous = text
            text = fixEncodingOneStep(text)
            if text == previous { return text }
        }
    }

    static func fixEncodingOneStep(_ text: Scalars) -> Scalars {
        if text.isEmpty || text.allSatisfy({ $0 < 0x80 }) || !Badness.isBad(text) { return text }
        var possible = [String]()
        for charmap in TextTables.charmaps where text.allSatisfy({ charmap.allowed.contains($0) }) {
            possible.append(charmap.name)
            var bytes = text.map { charmap.encode[$0]! }
            if charmap.name != "macroman" && ByteFixes.hasAlteredUTF8(bytes) {
                bytes = ByteFixes.restoreByteA0(bytes)
            }
            if charmap.name.hasPrefix("sloppy") { bytes = ByteFixes.replaceLossySequences(bytes) }
            let variants = bytes.contains(0xED) || bytes.contains(0xC0)
            if let decoded = ByteFixes.decodeUTF8(bytes, variants: variants) { return decoded }
        }
        if Badness.hasUTF8Clue(text) {
            let fixed = decodeInconsistentUTF8(text)
            if fixed != text { return fixed }
        }
        if possible.contains("latin-1") {
            // ftfy checks for "windows-1252" in a list that only ever holds "sloppy-windows-1252",
            // so it always tries latin-1 -> strict windows-1252 here.
            let cp1252 = TextTables.sloppyWindows1252
            let undefined: Set<UInt32> = [0x81, 0x8D, 0x8F, 0x90, 0x9D]
            if !text.contains(where: { undefined.contains($0) }) {
                // Only C1 code points change: U+001A is itself in strict windows-1252 (the sloppy table says U+FFFD).
                let fixed = text.map { ($0 >= 0x80 && $0 <= 0x9F) ? cp1252.decode[Int($0)] : $0 }
                if fixed != text { return fixed }
            }
        }
        if text.contains(where: { $0 >= 0x80 && $0 <= 0x9F }) { return fixC1Controls(text) }
        return text
    }

    static func decodeInconsistentUTF8(_ text: Scalars) -> Scalars {
        var out = Scalars()
        var i = 0
        while i < text.count {
            if let length = Badness.utf8DetectorMatch(text, at: i) {
                let sub = Array(text[i..<(i + length)])
                out += (sub.count < text.count && Badness.isBad(sub)) ? fixEncoding(sub) : sub
                i += length
            } else {
                out.append(text[i])
                i += 1
            }
        }
        return out
    }
}

extension Unicode {
    static func string(_ t: Scalars) -> String {
        var v = String.UnicodeScalarView()
        v.reserveCapacity(t.count)
        for c in t { v.append(Unicode.Scalar(c) ?? "\u{FFFD}") }
        return String(v)
    }
}
