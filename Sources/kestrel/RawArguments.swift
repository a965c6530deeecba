import KestrelEngine
import ArgumentParser
import Foundation

/// Command-line paths as the exact bytes the user's shell passed. `CommandLine.arguments` (and so
/// ArgumentParser) decodes each argument to a `String`, replacing bytes that are not UTF-8 with
/// U+FFFD: a Latin-1 file name would name a file that does not exist. The raw `argv` keeps them.
enum RawArguments {
    /// argv[1...], as bytes.
    static let argv: [[UInt8]] = (1..<Int(CommandLine.argc)).map { i in
        guard let p = CommandLine.unsafeArgv[i] else { return [] }
        var bytes: [UInt8] = []
        var q = p
        while q.pointee != 0 { bytes.append(UInt8(bitPattern: q.pointee)); q += 1 }
        return bytes
    }

    /// Where an argument's value can sit: the whole argument, or after the `=` of `--option=value`.
    static let candidates: [[UInt8]] = argv.flatMap { arg -> [[UInt8]] in
        guard arg.starts(with: [0x2D, 0x2D]), let eq = arg.firstIndex(of: 0x3D) else { return [arg] }
        return [arg, Array(arg[(eq + 1)...])]
    }

    /// The exact bytes of each of `values`, which ArgumentParser parsed from argv in this order.
    /// A value without U+FFFD is its own UTF-8 (an argument with bytes that are not UTF-8 would
    /// have been given U+FFFD); one with U+FFFD is matched, in order, to the argument that decodes
    /// to it.
    static func paths(_ values: [String]) -> [FilePathBytes] {
        var next = 0
        return values.map { value in
            let utf8 = Array(value.utf8)
            guard containsReplacement(utf8) else { return FilePathBytes(utf8) }
            for i in next..<candidates.count where Array(String(decoding: candidates[i], as: UTF8.self).utf8) == utf8 {
                next = i + 1
                return FilePathBytes(candidates[i])
            }
            return FilePathBytes(utf8)  // not found (a value built another way): as given
        }
    }

    static func path(_ value: String) -> FilePathBytes { paths([value])[0] }

    private static func containsReplacement(_ b: [UInt8]) -> Bool {
        guard b.count >= 3 else { return false }
        for i in 0...(b.count - 3) where b[i] == 0xEF && b[i + 1] == 0xBF && b[i + 2] == 0xBD { return true }
        return false
    }
}

extension RawArguments {
    /// A folder option given as bytes (`--index`), made absolute from the current folder (as
    /// `URL(fileURLWithPath:)` did; `.` and `..` are kept for the file system to resolve).
    static func absolutePath(_ value: String) -> FilePathBytes {
        let raw = path(value)
        return raw.isAbsolute ? raw : FileSystem.currentDirectory().appending(raw.bytes)
    }

    /// A `--prefix` as stored paths start: absolute (a relative one from the current folder),
    /// without `.` and `..`; a trailing `/` (or a last `.` / `..`) keeps it a folder prefix, so
    /// `img/` matches `img/a.png` but not `imgs/a.png`, while `img/ca` matches `img/cat.png`.
    static func pathPrefix(_ value: String) -> FilePathBytes {
        let raw = path(value)
        guard !raw.bytes.isEmpty else { return raw }
        let last = raw.bytes.split(separator: 0x2F).last.map(Array.init) ?? []
        let folder = raw.bytes.last == 0x2F || last == [0x2E] || last == [0x2E, 0x2E]
        let full = raw.standardized()
        return folder && full.bytes.last != 0x2F ? FilePathBytes(full.bytes + [0x2F]) : full
    }

    /// The value of a folder or file option (`--model`, `--vocab`) whose lower layers (the model,
    /// safetensors and tokenizer readers) open files through Foundation by text path. A name that
    /// is not UTF-8 cannot be passed to them: Foundation's `URL` itself turns its odd bytes into
    /// U+FFFD, which names another folder. Such a name is refused, naming the option and the
    /// exact bytes (escaped), never silently replaced. A UTF-8 name is used exactly as given (NFC
    /// and NFD spellings are two folders, as on disk).
    static func textPath(_ value: String, option: String) throws -> String {
        let raw = path(value)
        guard raw.isValidUTF8 else {
            let what = option == "--vocab" ? "vocabulary files" : "model folders"
            throw ValidationError("""
                \(option) \(raw): the name is not valid UTF-8 (each \\xNN is a byte that is not), and Kestrel \
                opens \(what) only under UTF-8 names; nothing was read. Rename it to UTF-8 \
                (convmv -f latin1 -t utf8 --notest NAME) or make a symbolic link with a UTF-8 name to it \
                (ln -s NAME NEWNAME) and pass that
                """)
        }
        return value
    }

    /// Refuses text values (`--text`) whose argument bytes are not valid UTF-8: ArgumentParser
    /// would have turned each odd byte into U+FFFD, a query other than the one typed.
    static func requireUTF8(_ values: [String], option: String) throws {
        for raw in paths(values) where !raw.isValidUTF8 {
            throw ValidationError("\(option) \"\(raw)\": the text is not valid UTF-8 (each \\xNN is a byte that is not); give it in UTF-8")
        }
    }

    /// Refuses a query text with no words (empty, or only spaces and newlines): its embedding is
    /// the empty prompt's, which matches nothing in particular, so a ranking or a box for it would
    /// be a wrong answer given silently. The server refuses such queries too (`QueryParsing`).
    /// `embed` does not call it: the empty prompt's embedding is a value one may ask for.
    static func requireWords(_ values: [String], option: String) throws {
        for t in values where t.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw ValidationError("\(option) needs some words; '\(t)' has none")
        }
    }

    /// `textPath` as a file URL.
    static func textURL(_ value: String, option: String) throws -> URL {
        URL(fileURLWithPath: try textPath(value, option: option))
    }
}
