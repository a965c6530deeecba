/// How file names are shown. One rule everywhere a name is printed as plain text (results,
/// `error:` and `warning:` lines): valid UTF-8 is printed as it is, except
///
///     \      ->  \\
///     LF TAB CR          ->  \n \t \r
///     other C0 controls and DEL (0x00-0x1F, 0x7F)   ->  \xNN   (ESC is \x1b)
///     C1 controls (U+0080-U+009F)                     ->  \u0085 ...
///     bidirectional controls (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069)  ->  \u202e ...
///     each byte that is not part of valid UTF-8       ->  \xNN   (Latin-1 é is \xe9)
///
/// with NN two lower-case hex digits. The escaped text holds no control characters, so a name
/// cannot break a line or send a terminal escape sequence; the mapping is one-to-one, so the
/// exact bytes can be recovered (see `unescaped`).
extension FilePathBytes {
    public var escaped: String { PathText.escape(bytes) }
}

public enum PathText {
    public static func escape(_ bytes: [UInt8]) -> String {
        var out = ""
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x80 {
                switch b {
                case 0x5C: out += "\\\\"
                case 0x0A: out += "\\n"
                case 0x09: out += "\\t"
                case 0x0D: out += "\\r"
                case 0x00..<0x20, 0x7F: out += hex(b)
                default: out.unicodeScalars.append(Unicode.Scalar(b))
                }
                i += 1
                continue
            }
            let n = sequenceLength(lead: b)
            if n > 1, i + n <= bytes.count, let s = String(validating: bytes[i..<(i + n)], as: UTF8.self),
               let scalar = s.unicodeScalars.first
            {
                if isControl(scalar) {
                    out += unicodeEscape(scalar)
                } else {
                    out.unicodeScalars.append(scalar)
                }
                i += n
            } else {
                out += hex(b)
                i += 1
            }
        }
        return out
    }

    /// Text for one terminal line: every control character (C0, DEL, C1) escaped as `escape`
    /// writes it (`\n`, `\t`, `\r`, `\x1b`, `\u0085`); everything else, backslashes included,
    /// kept as it is. For whole messages and fields that may hold names already escaped with
    /// `escape` (those hold no control characters and pass unchanged) or raw user text (a
    /// model path, a class name, a store record).
    public static func escapeControls(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for u in text.unicodeScalars {
            guard isControl(u) else { out.unicodeScalars.append(u); continue }
            switch u.value {
            case 0x0A: out += "\\n"
            case 0x09: out += "\\t"
            case 0x0D: out += "\\r"
            case 0x80...: out += unicodeEscape(u)
            default: out += hex(UInt8(u.value))
            }
        }
        return out
    }

    /// C0, DEL, C1, and the bidirectional controls that reorder what a terminal shows (a name
    /// holding U+202E can make `gpj.exe` look like `exe.jpg`).
    static func isControl(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0..<0x20, 0x7F...0x9F, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    /// `\u0085`, `\u202e`: four lower-case hex digits.
    static func unicodeEscape(_ u: Unicode.Scalar) -> String {
        let h = String(u.value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - h.count)) + h
    }

    /// The bytes of an escaped name (the inverse of `escape`); nil for text `escape` never makes.
    public static func unescape(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        let s = Array(text.utf8)
        var i = 0
        func hexValue(_ c: UInt8) -> UInt8? {
            switch c { case 48...57: return c - 48; case 97...102: return c - 87; case 65...70: return c - 55; default: return nil }
        }
        while i < s.count {
            guard s[i] == 0x5C else { out.append(s[i]); i += 1; continue }
            guard i + 1 < s.count else { return nil }
            switch s[i + 1] {
            case 0x5C: out.append(0x5C); i += 2
            case UInt8(ascii: "n"): out.append(0x0A); i += 2
            case UInt8(ascii: "t"): out.append(0x09); i += 2
            case UInt8(ascii: "r"): out.append(0x0D); i += 2
            case UInt8(ascii: "x"):
                guard i + 3 < s.count, let h = hexValue(s[i + 2]), let l = hexValue(s[i + 3]) else { return nil }
                out.append(h << 4 | l); i += 4
            case UInt8(ascii: "u"):
                guard i + 5 < s.count, let a = hexValue(s[i + 2]), let b = hexValue(s[i + 3]),
                      let c = hexValue(s[i + 4]), let d = hexValue(s[i + 5]),
                      let scalar = Unicode.Scalar(UInt32(a) << 12 | UInt32(b) << 8 | UInt32(c) << 4 | UInt32(d))
                else { return nil }
                out += Array(String(scalar).utf8); i += 6
            default: return nil
            }
        }
        return out
    }

    static func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return "\\x" + String(decoding: [digits[Int(b >> 4)], digits[Int(b & 15)]], as: UTF8.self)
    }

    static func sequenceLength(lead b: UInt8) -> Int {
        switch b {
        case 0xC2...0xDF: return 2
        case 0xE0...0xEF: return 3
        case 0xF0...0xF4: return 4
        default: return 0
        }
    }
}
