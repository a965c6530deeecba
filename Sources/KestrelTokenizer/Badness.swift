/// ftfy's mojibake detectors (`ftfy/badness.py` BADNESS_RE and `ftfy/chardata.py` UTF8_DETECTOR_RE),
/// hand-translated: each regex alternative is a short sequence of character classes.

/// A Python string: a sequence of code points.
typealias Scalars = [UInt32]

enum Badness {
    // Bits of ftfy's MOJIBAKE_CATEGORIES (all in the BMP).
    static let common: UInt16 = 1 << 0, c1: UInt16 = 1 << 1, bad: UInt16 = 1 << 2, law: UInt16 = 1 << 3
    static let currency: UInt16 = 1 << 4, startPunct: UInt16 = 1 << 5, endPunct: UInt16 = 1 << 6
    static let numeric: UInt16 = 1 << 7, kaomoji: UInt16 = 1 << 8, upperAccented: UInt16 = 1 << 9
    static let lowerAccented: UInt16 = 1 << 10, upperCommon: UInt16 = 1 << 11, lowerCommon: UInt16 = 1 << 12
    static let box: UInt16 = 1 << 13

    static let categories: [UInt16] = {
        var table = [UInt16](repeating: 0, count: 0x10000)
        let sources: [(String, UInt16)] = [
            (GeneratedTables.cat_common, common), (GeneratedTables.cat_c1, c1), (GeneratedTables.cat_bad, bad),
            (GeneratedTables.cat_law, law), (GeneratedTables.cat_currency, currency),
            (GeneratedTables.cat_start_punctuation, startPunct), (GeneratedTables.cat_end_punctuation, endPunct),
            (GeneratedTables.cat_numeric, numeric), (GeneratedTables.cat_kaomoji, kaomoji),
            (GeneratedTables.cat_upper_accented, upperAccented), (GeneratedTables.cat_lower_accented, lowerAccented),
            (GeneratedTables.cat_upper_common, upperCommon), (GeneratedTables.cat_lower_common, lowerCommon),
            (GeneratedTables.cat_box, box),
        ]
        for (text, bit) in sources {
            for item in text.split(separator: ",") {
                let parts = item.split(separator: "-")
                let lo = Int(parts[0], radix: 16)!, hi = parts.count > 1 ? Int(parts[1], radix: 16)! : lo
                for c in lo...hi { table[c] |= bit }
            }
        }
        return table
    }()

    typealias Class = @Sendable (UInt32) -> Bool

    static func cat(_ bits: UInt16, _ extra: String = "") -> Class {
        let extras = Set(extra.unicodeScalars.map(\.value))
        return { c in (c < 0x10000 && categories[Int(c)] & bits != 0) || extras.contains(c) }
    }
    static func chars(_ s: String) -> Class {
        let set = Set(s.unicodeScalars.map(\.value))
        return { set.contains($0) }
    }
    static let asciiLetter: Class = { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }
    static let asciiLower: Class = { $0 >= 0x61 && $0 <= 0x7A }
    static let space: Class = { TextTables.pythonSpaces.contains($0) }
    static let word: Class = { TextTables.pythonWord.contains($0) }

    /// One alternative: classes in order; `optional[i]` marks `x?`; `anchored` marks `^`.
    struct Alternative: Sendable {
        var classes: [Class]
        var optional: [Bool]
        var anchored = false
        init(_ classes: [Class], optional: [Bool]? = nil, anchored: Bool = false) {
            self.classes = classes
            self.optional = optional ?? Array(repeating: false, count: classes.count)
            self.anchored = anchored
        }
        func matches(_ t: Scalars, _ i: Int, _ k: Int = 0) -> Bool {
            if k == classes.count { return true }
            if optional[k], matches(t, i, k + 1) { return true }
            return i < t.count && classes[k](t[i]) && matches(t, i + 1, k + 1)
        }
    }

    static let alternatives: [Alternative] = {
        let B = bad, LA = lowerAccented, UA = upperAccented, X = box, SP = startPunct, EP = endPunct
        let CU = currency, NU = numeric, LAW = law, LC = lowerCommon, UC = upperCommon, CO = common
        let cyr = chars("ВГРС"), grk = chars("ΒΓΞΟ"), arab = chars("ØÙ")
        let arabNext = cat(CO | CU | B | NU | SP, "ŸŠ®°µ»")
        return [
            Alternative([cat(c1)]),
            Alternative([cat(B | LA | UA | X | SP | EP | CU | NU | LAW), cat(B)]),
            Alternative([asciiLetter, cat(LC | UC), cat(B)]),
            Alternative([cat(B), cat(LA | UA | X | SP | EP | CU | NU | LAW)]),
            Alternative([cat(LA | LC | X | EP | CU | NU), cat(UA)]),
            Alternative([cat(X | EP | CU | NU), cat(LA)]),
            Alternative([cat(LA | X | EP), cat(CU)]),
            Alternative([space, cat(UA), cat(CU)]),
            Alternative([cat(UA | X), cat(NU | LAW)]),
            Alternative([cat(LA | UA | X | CU | EP), cat(SP), cat(NU)]),
            Alternative([cat(LA | UA | CU | NU | X | LAW), cat(EP), cat(SP)]),
            Alternative([cat(CU | NU | X), cat(SP)]),
            Alternative([asciiLower, cat(UA), cat(SP | CU)]),
            Alternative([cat(X), cat(kaomoji)]),
            Alternative([cat(LA | UA | CU | NU | SP | EP | LAW), cat(X)]),
            Alternative([cat(X), cat(EP)]),
            Alternative([cat(LA | UA), cat(SP | EP), word]),
            Alternative([chars("Œœ"), { !asciiLetter($0) }]),
            Alternative([cat(UA), chars("°")]),
            Alternative([chars("ÂÃÎÐ"), cat(SP | EP, "€œŠš¢£Ÿž\u{A0}\u{AD}®©°·»–—´")]),
            Alternative([chars("×"), chars("²³")]),
            Alternative([arab, arabNext, arab, arabNext]),
            Alternative([chars("à"), chars("²µ¹¼½¾")]),
            Alternative([chars("√"), chars("±∂†≠®™´≤≥¥µø")]),
            Alternative([chars("≈"), chars("°¢")]),
            Alternative([chars("‚"), chars("Ä"), chars("ìîïòôúùû†°¢π")]),
            Alternative([chars("‚"), chars("âó"), chars("àä°ê")]),
            Alternative([chars("в"), chars("Ђ")]),
            Alternative([cyr, cat(c1 | B | SP | EP | CU, "°µ"), cyr]),
            Alternative([chars("Г"), chars("ў"), chars("В"), chars("Ђ"), chars("В"), { $0 != 0x0A },
                         chars("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ")]),
            Alternative([chars("Ã"), chars("\u{A0}¡")]),
            Alternative([asciiLower, space, chars("ÃÂ"), chars(" ")], optional: [false, true, false, false]),
            Alternative([chars("ÃÂ"), chars(" ")], anchored: true),
            Alternative([cat(EP, "abcdefghijklmnopqrstuvwxyz.,?!"), chars("Â"), cat(SP | EP, " ")]),
            Alternative([chars("β"), chars("€"), chars("™\u{A0}Ά\u{AD}®°")]),
            Alternative([grk, cat(c1 | B | SP | EP | CU, "°"), grk]),
            Alternative([chars("ā"), chars("€")]),
        ]
    }()

    /// ftfy's `is_bad`: does BADNESS_RE match anywhere?
    static func isBad(_ t: Scalars) -> Bool {
        for i in t.indices {
            for alt in alternatives where !alt.anchored || i == 0 {
                if alt.matches(t, i) { return true }
            }
        }
        return false
    }

    // UTF8_DETECTOR_RE: (?<![strict]) ( [first2][cont] | [first3][cont]{2} | [first4][cont]{3} )+
    static let first2 = ScalarSet(ranges: GeneratedTables.clue_utf8_first_of_2)
    static let first3 = ScalarSet(ranges: GeneratedTables.clue_utf8_first_of_3)
    static let first4 = ScalarSet(ranges: GeneratedTables.clue_utf8_first_of_4)
    static let continuation = ScalarSet(ranges: GeneratedTables.clue_utf8_continuation)
    static let continuationStrict = ScalarSet(ranges: GeneratedTables.clue_utf8_continuation_strict)

    /// Length of a UTF8_DETECTOR_RE match starting at `i`, or nil.
    static func utf8DetectorMatch(_ t: Scalars, at i: Int) -> Int? {
        if i > 0 && continuationStrict.contains(t[i - 1]) { return nil }
        var end = i
        while true {
            var advanced = false
            for (set, n) in [(first2, 1), (first3, 2), (first4, 3)] {
                guard end + n < t.count, set.contains(t[end]) else { continue }
                var ok = true
                for k in 1...n where !continuation.contains(t[end + k]) { ok = false; break }
                if ok { end += n + 1; advanced = true; break }
            }
            if !advanced { break }
        }
        return end > i ? end - i : nil
    }

    static func hasUTF8Clue(_ t: Scalars) -> Bool {
        t.indices.contains { utf8DetectorMatch(t, at: $0) != nil }
    }
}
