import Foundation

/// What config readers say about JSON: where it is broken, whether a value is a JSON boolean,
/// and a value as JSON text. Used by the preprocessing config here and the model configs above.
public enum JSONDiagnostics {
    /// "invalid JSON: WHAT FOUNDATION FOUND" (its NSDebugDescription), never Foundation's bare
    /// "The data is not in the correct format." Where it says "around character N" (a byte
    /// offset), the line and column of that byte follow.
    public static func invalidJSON(_ error: Error, _ data: Data) -> String {
        guard let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String, !detail.isEmpty else {
            return "invalid JSON: the file is not valid JSON text"
        }
        guard let range = detail.range(of: #"around character \d+"#, options: .regularExpression),
              let offset = Int(detail[range].split(separator: " ").last ?? ""), offset <= data.count else { return "invalid JSON: \(detail)" }
        let before = data.prefix(offset)
        let line = before.filter { $0 == 0x0A }.count + 1
        let column = offset - (before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0) + 1
        return "invalid JSON at line \(line), column \(column): \(detail)"
    }

    /// JSON's own booleans: Foundation gives them as NSNumber, which also casts to Int and Double
    /// (and a JSON 1 casts to Bool), so they are told apart by their type (`c`, a C char).
    public static func isBool(_ value: Any) -> Bool {
        guard let n = value as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"
    }

    /// A value as JSON text for messages (`{"width":32}`, `[1]`, `"12"`, `true`), not a Swift
    /// description (`["width": 32]`).
    public static func jsonText(_ value: Any) -> String {
        if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) {
            return String(decoding: data, as: UTF8.self)
        }
        return "\(value)"
    }
}
