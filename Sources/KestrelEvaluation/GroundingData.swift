// The input of `kestrel eval grounding`: a grounding.jsonl file as `kestrel data grounding`
// writes it (docs/data.md, "Grounding scenes"), one scene per line.
import Foundation
import KestrelEngine
import KestrelGrounding
import KestrelImage

/// One scene to ground: the picture, the query naming the target, the target's exact box.
public struct GroundingCase: Sendable {
    /// The picture (a relative path in the file is taken from the file's folder).
    public var path: FilePathBytes
    public var query: String
    /// The target's box in the picture's pixels.
    public var target: PixelBox
    /// The picture's size as the file records it; a decoded picture of another size is refused.
    public var width: Int, height: Int
    /// "same-shape", "same-colour" or "mixed" (what the distractors share with the target); nil when not recorded.
    public var distractors: String?
    /// Whether the target's shape-colour pair is held out of training; nil when not recorded.
    public var heldOutCombination: Bool?

    public init(path: FilePathBytes, query: String, target: PixelBox, width: Int, height: Int,
                distractors: String? = nil, heldOutCombination: Bool? = nil) {
        self.path = path; self.query = query; self.target = target; self.width = width; self.height = height
        self.distractors = distractors; self.heldOutCombination = heldOutCombination
    }
}

public enum GroundingData {
    /// The largest grounding.jsonl read (256 MiB).
    public static let byteLimit = 256 << 20

    /// Reads a grounding.jsonl file. Throws `EvaluationError.badInput` naming the file, the line
    /// and the field for a line that is not a JSON object, a missing or mistyped field, a
    /// "format" other than "kestrel-grounding", a "version" other than 1, a box that is not four
    /// finite numbers with x0 < x1 and y0 < y1 inside width × height, or no scenes at all;
    /// `FileError` when the file cannot be read.
    public static func load(_ file: FilePathBytes) throws -> [GroundingCase] {
        try parse(try FileSystem.readFile(file, limit: byteLimit), name: file.description, folder: file.standardized().parent)
    }

    /// Parses the bytes of a grounding.jsonl file; relative paths are taken from `folder` (absolute).
    public static func parse(_ bytes: [UInt8], name: String, folder: FilePathBytes) throws -> [GroundingCase] {
        var cases: [GroundingCase] = []
        var lineNumber = 0
        for raw in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Array(raw)
            if line.last == 0x0D { line.removeLast() }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            func bad(_ why: String) -> EvaluationError { .badInput("\(name): line \(lineNumber): \(why)") }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                throw bad("not a JSON object (each line of a grounding file is one scene; docs/data.md)")
            }
            func string(_ key: String) throws -> String {
                guard let s = object[key] as? String else { throw bad("field \"\(key)\" must be a string") }
                return s
            }
            func integer(_ key: String) throws -> Int {
                guard let n = object[key] as? NSNumber, !JSONDiagnostics.isBool(n), let i = Int(exactly: n.doubleValue) else {
                    throw bad("field \"\(key)\" must be a whole number")
                }
                return i
            }
            let format = try string("format")
            guard format == "kestrel-grounding" else { throw bad("field \"format\" is \"\(format)\", expected \"kestrel-grounding\"") }
            let version = try integer("version")
            guard version == 1 else { throw bad("field \"version\" is \(version); this Kestrel reads version 1") }
            let path = try string("path")
            guard !path.isEmpty else { throw bad("field \"path\" is empty") }
            let query = try string("query")
            guard !query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw bad("field \"query\" has no words") }
            let width = try integer("width"), height = try integer("height")
            guard width >= 1 && height >= 1 else { throw bad("fields \"width\" and \"height\" must be at least 1, got \(width)x\(height)") }
            guard let numbers = object["box"] as? [NSNumber], numbers.count == 4,
                  numbers.allSatisfy({ !JSONDiagnostics.isBool($0) && $0.doubleValue.isFinite }) else {
                throw bad("field \"box\" must be [x0, y0, x1, y1], four numbers in pixels")
            }
            let b = numbers.map(\.doubleValue)
            guard b[0] < b[2] && b[1] < b[3] else { throw bad("field \"box\" \(b) must have x0 < x1 and y0 < y1") }
            guard b[0] >= 0 && b[1] >= 0 && b[2] <= Double(width) && b[3] <= Double(height) else {
                throw bad("field \"box\" \(b) lies outside the \(width)x\(height) picture")
            }
            let distractors = object["distractors"] as? String
            if object["distractors"] != nil && distractors == nil { throw bad("field \"distractors\" must be a string") }
            var heldOut: Bool? = nil
            if let v = object["held_out_combination"] {
                guard let n = v as? NSNumber, JSONDiagnostics.isBool(n) else { throw bad("field \"held_out_combination\" must be true or false") }
                heldOut = n.boolValue
            }
            let p = FilePathBytes(path)
            cases.append(GroundingCase(path: p.isAbsolute ? p : p.standardized(relativeTo: folder), query: query,
                                       target: PixelBox(x0: b[0], y0: b[1], x1: b[2], y1: b[3]), width: width, height: height,
                                       distractors: distractors, heldOutCombination: heldOut))
        }
        guard !cases.isEmpty else { throw EvaluationError.badInput("\(name): no scenes (an empty grounding file)") }
        return cases
    }
}
