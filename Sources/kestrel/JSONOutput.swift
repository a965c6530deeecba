import Foundation
import KestrelEngine

/// Writes JSON values by hand so that key order is stable and floats print as their shortest
/// round-trip form. One line per record: the CLI's output format is a user-facing contract.
enum JSONValue {
    case string(String)
    case int(Int)
    case float(Float)
    case double(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case floats([Float])
    case ints([Int])
    case object([(String, JSONValue)])

    func write(into out: inout String) {
        switch self {
        case .string(let s): JSONValue.escape(s, into: &out)
        case .int(let i): out += String(i)
        case .float(let f): out += f.isFinite ? "\(f)" : "null"
        case .double(let d): out += d.isFinite ? "\(d)" : "null"
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .ints(let xs):
            out += "["; out += xs.map(String.init).joined(separator: ", "); out += "]"
        case .floats(let xs):
            out += "["
            for (i, x) in xs.enumerated() { if i > 0 { out += ", " }; out += x.isFinite ? "\(x)" : "null" }
            out += "]"
        case .array(let xs):
            out += "["
            for (i, x) in xs.enumerated() { if i > 0 { out += ", " }; x.write(into: &out) }
            out += "]"
        case .object(let fields):
            out += "{"
            for (i, (k, v)) in fields.enumerated() {
                if i > 0 { out += ", " }
                JSONValue.escape(k, into: &out); out += ": "; v.write(into: &out)
            }
            out += "}"
        }
    }

    var line: String { var s = ""; write(into: &s); return s }

    /// A file name as JSON fields: `name` holds its text (each byte that is not valid UTF-8 as
    /// U+FFFD), and only for names that are not valid UTF-8, `name_bytes` holds the exact bytes
    /// in base64. Round trip: `base64.b64decode(o["path_bytes"]) if "path_bytes" in o else
    /// o["path"].encode()` (Python), `.path_bytes // .path` (jq, to tell them apart).
    static func path(_ name: String, _ path: FilePathBytes) -> [(String, JSONValue)] {
        var fields: [(String, JSONValue)] = [(name, .string(path.lossyString))]
        if !path.isValidUTF8 { fields.append((name + "_bytes", .string(Data(path.bytes).base64EncodedString()))) }
        return fields
    }

    static func escape(_ s: String, into out: inout String) { JSONText.appendQuoted(s, to: &out) }
}

/// Output helpers: results on stdout, `warning:` / `error:` lines on stderr. File names in
/// plain text are printed escaped (`FilePathBytes.description`, see `PathText`).
enum Console {
    static func emit(_ value: JSONValue) { print(value.line) }

    /// Writes bytes to stdout through the same buffered stream as `print` (order is kept).
    static func writeStdout(_ bytes: [UInt8]) {
        for b in bytes { putchar(Int32(b)) }
    }

    /// Writes text to stderr as it is (progress bars).
    @Sendable static func writeStderr(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Whether stderr is a terminal that can redraw a progress line.
    static var stderrIsTerminal: Bool {
        isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data("error: \(terminalText(message))\n".utf8))
    }

    static func warning(_ message: String) {
        FileHandle.standardError.write(Data("warning: \(terminalText(message))\n".utf8))
    }

    /// A summary line on stderr (`added ...`, `report: ...`), control characters escaped.
    static func say(_ line: String) {
        FileHandle.standardError.write(Data((PathText.escapeControls(line) + "\n").utf8))
    }

    /// A message as it may reach a terminal: control characters escaped (see
    /// `PathText.escapeControls`; names already escaped pass unchanged), except the line break
    /// before a `---> HINT:` line, which is the message's own.
    static func terminalText(_ message: String) -> String {
        let hint = "\n---> HINT: "
        return message.components(separatedBy: hint).map(PathText.escapeControls).joined(separator: hint)
    }

    /// A user's text (a model path, a class name) as one plain-text field: escaped as file names
    /// are (`PathText`), so it holds no tab, line break or terminal escape.
    static func field(_ text: String) -> String { PathText.escape(Array(text.utf8)) }
}
