/// HTML entity handling as the references do it: Python's `html.unescape` (applied twice by
/// CLIP's `basic_clean`) and ftfy's stricter `unescape_html` (only `&...;` forms).

enum HTMLEntities {
    private static let amp: UInt32 = 0x26, hash: UInt32 = 0x23, semicolon: UInt32 = 0x3B
    /// Characters that end an entity name: `[^\t\n\f <&#;]`.
    private static let nameStops: Set<UInt32> = [0x09, 0x0A, 0x0C, 0x20, 0x3C, 0x26, 0x23, 0x3B]

    private static func isDigit(_ c: UInt32) -> Bool { c >= 0x30 && c <= 0x39 }
    private static func isHex(_ c: UInt32) -> Bool {
        isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
    }
    private static func isAlnum(_ c: UInt32) -> Bool {
        isDigit(c) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
    }
    private static func string(_ s: ArraySlice<UInt32>) -> String {
        var v = String.UnicodeScalarView()
        for c in s { v.append(Unicode.Scalar(c) ?? "\u{FFFD}") }
        return String(v)
    }
    private static func scalars(_ s: String) -> Scalars { s.unicodeScalars.map(\.value) }

    /// Python's `html._replace_charref` for a numeric reference with value `digits` in `radix`.
    private static func numericCharref(_ digits: ArraySlice<UInt32>, radix: UInt32) -> Scalars {
        var num: UInt64 = 0
        for d in digits {
            let v: UInt32 = isDigit(d) ? d - 0x30 : (d | 0x20) - 0x61 + 10
            num = num * UInt64(radix) + UInt64(v)
            if num > 0x10FFFF { num = 0x110000 }  // saturate: anything this big becomes U+FFFD
        }
        if num <= 0xFF, let replacement = TextTables.invalidCharrefs[UInt32(num)] { return [replacement.value] }
        if (0xD800...0xDFFF).contains(num) || num > 0x10FFFF { return [0xFFFD] }
        if TextTables.invalidCodepoints.contains(UInt32(num)) { return [] }
        return [UInt32(num)]
    }

    /// Python 3.11 `html.unescape`.
    static func pythonUnescape(_ t: Scalars) -> Scalars {
        guard t.contains(amp) else { return t }
        var out = Scalars()
        out.reserveCapacity(t.count)
        var i = 0
        let n = t.count
        while i < n {
            let c = t[i]
            guard c == amp, i + 1 < n else { out.append(c); i += 1; continue }
            var j = i + 1
            if t[j] == hash {
                // #[0-9]+;?  or  #[xX][0-9a-fA-F]+;?
                var k = j + 1
                if k < n, isDigit(t[k]) {
                    while k < n, isDigit(t[k]) { k += 1 }
                    out += numericCharref(t[(j + 1)..<k], radix: 10)
                    if k < n, t[k] == semicolon { k += 1 }
                    i = k
                    continue
                }
                if k < n, t[k] == 0x78 || t[k] == 0x58, k + 1 < n, isHex(t[k + 1]) {
                    k += 1
                    let start = k
                    while k < n, isHex(t[k]) { k += 1 }
                    out += numericCharref(t[start..<k], radix: 16)
                    if k < n, t[k] == semicolon { k += 1 }
                    i = k
                    continue
                }
                out.append(c); i += 1; continue
            }
            // [^\t\n\f <&#;]{1,32};?
            while j < n, j - (i + 1) < 32, !nameStops.contains(t[j]) { j += 1 }
            if j == i + 1 { out.append(c); i += 1; continue }
            if j < n, t[j] == semicolon { j += 1 }
            let name = t[(i + 1)..<j]
            if let value = TextTables.html5Entities[string(name)] {
                out += scalars(value)
            } else {
                var matched = false
                var x = name.count - 1
                while x > 1 {
                    let prefix = name.prefix(x)
                    if let value = TextTables.html5Entities[string(prefix)] {
                        out += scalars(value)
                        out += name.dropFirst(x)
                        matched = true
                        break
                    }
                    x -= 1
                }
                if !matched { out.append(amp); out += name }
            }
            i = j
        }
        return out
    }

    /// ftfy's `unescape_html`: replaces `&#?[0-9A-Za-z]{1,24};` when it is a known entity.
    static func ftfyUnescape(_ t: Scalars) -> Scalars {
        guard t.contains(amp) else { return t }
        var out = Scalars()
        out.reserveCapacity(t.count)
        var i = 0
        let n = t.count
        while i < n {
            guard t[i] == amp else { out.append(t[i]); i += 1; continue }
            var j = i + 1
            if j < n, t[j] == hash { j += 1 }
            let start = j
            while j < n, j - start < 24, isAlnum(t[j]) { j += 1 }
            guard j > start, j < n, t[j] == semicolon else { out.append(t[i]); i += 1; continue }
            let entity = t[i...j]
            if let value = TextTables.ftfyEntities[string(entity)] {
                out += scalars(value)
            } else if t[i + 1] == hash {
                let unescaped = pythonUnescape(Array(entity))
                out += unescaped.contains(semicolon) ? Array(entity) : unescaped
            } else {
                out += entity
            }
            i = j + 1
        }
        return out
    }
}
