/// CLIP's text cleaning (open_clip `_clean_lower`, identical to OpenAI's):
/// `whitespace_clean(basic_clean(text)).lower()` where
/// `basic_clean = html.unescape(html.unescape(ftfy.fix_text(text))).strip()`.
enum TextCleaning {
    static func clean(_ text: String, _ normalization: TextNormalization) -> Scalars {
        normalization == .openAI ? clean(text) : huggingFace(text)
    }

    /// The `tokenizers` normalizer that transformers' CLIPTokenizer uses: NFC, every run of
    /// Unicode whitespace replaced by one space, per-character lowercase. No ftfy, no HTML unescaping.
    static func huggingFace(_ text: String) -> Scalars {
        var out = Scalars()
        var inSpace = false
        for u in text.precomposedStringWithCanonicalMapping.unicodeScalars {
            if u.properties.isWhitespace {
                if !inSpace { out.append(0x20) }
                inSpace = true
                continue
            }
            inSpace = false
            if u.value < 0x80 {
                out.append(u.value >= 0x41 && u.value <= 0x5A ? u.value + 0x20 : u.value)
            } else {
                out += u.properties.lowercaseMapping.unicodeScalars.map(\.value)
            }
        }
        return out
    }

    static func clean(_ text: String) -> Scalars {
        var t = text.unicodeScalars.map(\.value)
        t = FixText.fixText(t)
        t = HTMLEntities.pythonUnescape(HTMLEntities.pythonUnescape(t))
        return pythonLower(collapseWhitespace(t))
    }

    /// `" ".join(text.split())`: runs of Python whitespace become one space, ends trimmed.
    static func collapseWhitespace(_ t: Scalars) -> Scalars {
        var out = Scalars()
        out.reserveCapacity(t.count)
        var pendingSpace = false
        for c in t {
            if TextTables.pythonSpaces.contains(c) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(0x20); pendingSpace = false }
                out.append(c)
            }
        }
        return out
    }

    /// Python's `str.lower()`: full lowercase mapping, with the final-sigma rule for U+03A3.
    static func pythonLower(_ t: Scalars) -> Scalars {
        var out = Scalars()
        out.reserveCapacity(t.count)
        for (i, c) in t.enumerated() {
            if c < 0x80 {
                out.append(c >= 0x41 && c <= 0x5A ? c + 0x20 : c)
            } else if c == 0x3A3 {
                out.append(isFinalSigma(t, i) ? 0x3C2 : 0x3C3)
            } else if let lower = TextTables.pythonLower[c] {
                out += lower.map(\.value)
            } else {
                out.append(c)
            }
        }
        return out
    }

    private static func isCaseIgnorable(_ c: UInt32) -> Bool { Unicode.Scalar(c)?.properties.isCaseIgnorable ?? false }
    private static func isCased(_ c: UInt32) -> Bool { Unicode.Scalar(c)?.properties.isCased ?? false }

    /// `\p{cased}\p{case-ignorable}* U+03A3 !(\p{case-ignorable}* \p{cased})`, as CPython checks it.
    private static func isFinalSigma(_ t: Scalars, _ i: Int) -> Bool {
        var j = i - 1
        while j >= 0 && isCaseIgnorable(t[j]) { j -= 1 }
        guard j >= 0 && isCased(t[j]) else { return false }
        j = i + 1
        while j < t.count && isCaseIgnorable(t[j]) { j += 1 }
        return j == t.count || !isCased(t[j])
    }
}
