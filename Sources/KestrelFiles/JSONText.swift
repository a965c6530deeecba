import Foundation

/// JSON string literals for the JSON Kestrel writes by hand (CLI output, eval reports): one
/// escaping, RFC 8259 (quote, backslash, \n \r \t, other control characters as \u00XX; every
/// other scalar as itself).
public enum JSONText {
    /// Appends `s` as a quoted JSON string to `out`.
    public static func appendQuoted(_ s: String, to out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }
}
