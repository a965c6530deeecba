import Foundation

/// Finds files that ship with Kestrel (the CLIP vocabulary) for models that carry no tokenizer.
public enum BundledFiles {
    public static let vocabularyName = "bpe_simple_vocab_16e6.txt.gz"

    /// Search order: $KESTREL_VOCAB; `Vocab/` beside or above the executable (a checkout's
    /// `.build/<config>/kestrel`, or `<prefix>/bin` with `<prefix>/share/kestrel/Vocab`); the
    /// checkout this binary was built from.
    public static func vocabulary() throws -> URL {
        var candidates: [URL] = []
        if let env = ProcessInfo.processInfo.environment["KESTREL_VOCAB"], !env.isEmpty {
            candidates.append(URL(fileURLWithPath: env))
        }
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        var dir = exe
        for _ in 0..<5 {
            candidates.append(dir.appendingPathComponent("Vocab/\(vocabularyName)"))
            candidates.append(dir.appendingPathComponent("share/kestrel/Vocab/\(vocabularyName)"))
            dir = dir.deletingLastPathComponent()
        }
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(checkout.appendingPathComponent("Vocab/\(vocabularyName)"))
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) { return found }
        throw EngineError.vocabularyNotFound(searched: candidates.map(\.path))
    }
}
