// The harness's inputs: a folder with one subfolder per class, a CSV of `path,label`, or a CSV
// of `path,caption` (RFC 4180; paths relative to the CSV's own folder, or absolute).
import Foundation
import KestrelEngine

/// An image and its true class name.
public struct LabeledImage: Sendable, Equatable {
    public var path: FilePathBytes
    public var label: String
    public init(path: FilePathBytes, label: String) { self.path = path; self.label = label }
}

/// An image and one of its captions (an image may have several).
public struct CaptionedImage: Sendable, Equatable {
    public var path: FilePathBytes
    public var caption: String
    public init(path: FilePathBytes, caption: String) { self.path = path; self.caption = caption }
}

/// A labelled image set as read, with the files that were not used.
public struct LabeledImageSet: Sendable {
    public var images: [LabeledImage] = []
    /// Files met and left out with the reason (not images, outside any class folder): warnings.
    public var skipped: [FileProblem] = []
    /// Inputs that could not be looked at (an unreadable folder): the run exits 1.
    public var failed: [FileProblem] = []
}

public enum EvalInputs {
    /// The largest CSV read (256 MiB).
    public static let csvByteLimit = 256 << 20

    /// Parses RFC 4180 CSV bytes into records of byte fields, with the 1-based line each record
    /// starts on. Fields may be quoted ("a,b", "say ""hi"""), quoted fields may hold line breaks;
    /// lines end in LF or CRLF; a UTF-8 byte-order mark is skipped; empty lines are skipped.
    /// Throws `EvaluationError.badInput` naming `name` and the line for a quote left open or
    /// text after a closing quote.
    public static func parseCSV(_ bytes: [UInt8], name: String) throws -> [(line: Int, fields: [[UInt8]])] {
        var records: [(line: Int, fields: [[UInt8]])] = []
        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        while i < bytes.count {
            let start = line
            var fields: [[UInt8]] = []
            var field: [UInt8] = []
            var endOfRecord = false
            while !endOfRecord {
                if i < bytes.count && bytes[i] == 0x22 {   // a quoted field
                    i += 1
                    while true {
                        guard i < bytes.count else { throw EvaluationError.badInput("\(name): line \(start): a quoted field is not closed") }
                        if bytes[i] == 0x22 {
                            if i + 1 < bytes.count && bytes[i + 1] == 0x22 { field.append(0x22); i += 2; continue }
                            i += 1; break
                        }
                        if bytes[i] == 0x0A { line += 1 }
                        field.append(bytes[i]); i += 1
                    }
                    if i < bytes.count && ![0x2C, 0x0A, 0x0D].contains(bytes[i]) {
                        throw EvaluationError.badInput("\(name): line \(line): text after a closing quote (a quote inside a quoted field is written \"\")")
                    }
                } else {
                    while i < bytes.count && ![0x2C, 0x0A, 0x0D].contains(bytes[i]) { field.append(bytes[i]); i += 1 }
                }
                fields.append(field); field = []
                if i >= bytes.count { endOfRecord = true }
                else if bytes[i] == 0x2C { i += 1; if i >= bytes.count { fields.append([]); endOfRecord = true } }
                else {   // CR, LF or CRLF
                    if bytes[i] == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A { i += 1 }
                    i += 1; line += 1; endOfRecord = true
                }
            }
            if fields.count == 1 && fields[0].isEmpty { continue }   // an empty line
            records.append((start, fields))
        }
        return records
    }

    /// Reads a two-column CSV whose header is `path,<second>`; returns (path, text) per row with
    /// paths resolved against the CSV's folder. Errors (`EvaluationError.badInput`) name the file
    /// and line: a missing or other header, a row without exactly two fields, an empty field,
    /// text that is not UTF-8.
    static func readPairs(csv: FilePathBytes, second: String) throws -> [(FilePathBytes, String)] {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(csv, limit: csvByteLimit) } catch {
            throw EvaluationError.badInput("\(error)")
        }
        let records = try parseCSV(bytes, name: csv.description)
        let header = records.first.map { $0.fields.map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces).lowercased() } }
        guard header == ["path", second] else {
            throw EvaluationError.badInput("\(csv): the first line must be the header `path,\(second)`; found \(header.map { "`\($0.joined(separator: ","))`" } ?? "an empty file")")
        }
        let folder = csv.parent
        var out: [(FilePathBytes, String)] = []
        for (line, fields) in records.dropFirst() {
            guard fields.count == 2 else {
                throw EvaluationError.badInput("\(csv): line \(line): \(fields.count) fields; each row is `path,\(second)` (quote a field that holds a comma)")
            }
            guard !fields[0].isEmpty else { throw EvaluationError.badInput("\(csv): line \(line): the path is empty") }
            guard let text = String(validating: fields[1], as: UTF8.self) else {
                throw EvaluationError.badInput("\(csv): line \(line): the \(second) is not UTF-8 text")
            }
            let value = text.trimmingCharacters(in: .whitespaces)
            guard !value.isEmpty else { throw EvaluationError.badInput("\(csv): line \(line): the \(second) is empty") }
            let path = FilePathBytes(fields[0])
            out.append((path.isAbsolute ? path : folder.appending(path.bytes), value))
        }
        guard !out.isEmpty else { throw EvaluationError.badInput("\(csv): no rows after the header") }
        return out
    }

    /// `path,label` rows (see `readPairs`).
    public static func labeledImages(csv: FilePathBytes) throws -> [LabeledImage] {
        try readPairs(csv: csv, second: "label").map { LabeledImage(path: $0.0, label: $0.1) }
    }

    /// `path,caption` rows (see `readPairs`); a path may repeat with several captions.
    public static func captionedImages(csv: FilePathBytes) throws -> [CaptionedImage] {
        try readPairs(csv: csv, second: "caption").map { CaptionedImage(path: $0.0, caption: $0.1) }
    }

    /// A folder with one subfolder per class (the class name is the subfolder's name; its images
    /// are found recursively by `FolderWalker`). Files directly in `root` are skipped; a folder
    /// name that is not UTF-8 is an error (a class name is text). Throws `EvaluationError.badInput`
    /// when `root` is not a folder or holds no class folder.
    public static func classFolders(_ root: FilePathBytes) throws -> LabeledImageSet {
        let names: [[UInt8]]
        do { names = try FileSystem.listDirectory(root) } catch {
            throw EvaluationError.badInput("\(error) (give a folder with one subfolder per class, or --csv FILE)")
        }
        var set = LabeledImageSet()
        var classes = 0
        for name in names.sorted(by: { $0.lexicographicallyPrecedes($1) }) where name.first != 0x2E {
            let path = root.appending(name)
            guard (try? FileSystem.status(path).kind) == .directory else {
                set.skipped.append(FileProblem(path: path, reason: "not in a class folder")); continue
            }
            guard let label = String(validating: name, as: UTF8.self) else {
                throw EvaluationError.badInput("\(path): a class folder's name is its class name, and this one is not UTF-8 text; rename it")
            }
            classes += 1
            let walk = FolderWalker().walk([path])
            set.images += walk.images.map { LabeledImage(path: $0, label: label) }
            set.skipped += walk.skipped
            set.failed += walk.failed
        }
        guard classes > 0 else { throw EvaluationError.badInput("\(root): no class folders (give a folder with one subfolder per class)") }
        return set
    }
}
