import ArgumentParser
import Foundation
import KestrelEngine

struct LabelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "label",
        abstract: "Label images zero-shot with a set of classes (no index needed).",
        discussion: """
            Each class is embedded through prompt templates ({} is where the class name goes; with
            no --template, a default ensemble of 8), averaged and normalised. Per image: softmax at
            the model's logit scale over the classes. Output per image: path, label, score (its
            probability) and the full scores per class; --json gives JSON lines, --csv a header
            and one row per image. File names: escaped in plain output, "path" (+ "path_bytes",
            base64, when not UTF-8) in JSON, the exact bytes in CSV. An image that cannot be used
            gets an `error:` line and the exit status is 1; the others are still labelled.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .long, help: "Comma-separated class names.") var labels: String?
    @Option(name: .long, help: "A file with one class name per line (- reads standard input).") var labelsFile: String?
    @Option(name: .long, help: "A prompt template with {} for the class name (repeatable).") var template: [String] = []
    @Option(name: .long, parsing: .unconditional, help: "Label an image \"unknown\" when its best probability is below this (0 to 1).") var unknownBelow: Float?
    @Option(name: .long, parsing: .unconditional, help: "How many best labels to list per image in JSON (\"top\"), at least 1.") var top = 3
    @Flag(name: .long, help: "JSON lines output.") var json = false
    @Flag(name: .long, help: "CSV output.") var csv = false
    @Argument(help: "Image files or folders (recursively).") var paths: [String]

    func validate() throws {
        if (labels == nil) == (labelsFile == nil) { throw ValidationError("give --labels \"a,b,c\" or --labels-file FILE") }
        if json && csv { throw ValidationError("give --json or --csv, not both") }
        if paths.isEmpty { throw ValidationError("give at least one image file or folder") }
        for t in template where t.components(separatedBy: "{}").count != 2 {
            throw ValidationError("--template \"\(t)\" must contain exactly one {}")
        }
        if let u = unknownBelow, !(0...1).contains(u) { throw ValidationError("--unknown-below is a probability from 0 to 1, got \(u)") }
        guard top >= 1 else { throw ValidationError("--top must be at least 1, got \(top)") }
    }

    func classNames() throws -> [String] {
        let raw: [String]
        let source = labels != nil ? "--labels" : "--labels-file \(RawArguments.path(labelsFile!))"
        if let labels { raw = labels.components(separatedBy: ",") } else if labelsFile == "-" {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            guard let text = String(data: data, encoding: .utf8) else { throw ValidationError("\(source): standard input is not UTF-8 text") }
            raw = text.components(separatedBy: .newlines)
        } else {
            // The file name as the exact argv bytes (a Latin-1 name is a file, not U+FFFD).
            let file = RawArguments.path(labelsFile!)
            let bytes: [UInt8]
            do { bytes = try FileSystem.readFile(file, limit: 64 << 20) } catch { throw ValidationError("--labels-file \(error)") }
            guard let text = String(validating: bytes, as: UTF8.self) else { throw ValidationError("--labels-file \(file): not UTF-8 text") }
            raw = text.components(separatedBy: .newlines)
        }
        let names = raw.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw ValidationError("\(source): no class names found") }
        var seen: [String: Int] = [:]
        for n in names { seen[n, default: 0] += 1 }
        let repeated = names.filter { seen[$0]! > 1 }.reduce(into: [String]()) { if !$1.isEmpty && !$0.contains($1) { $0.append($1) } }
        guard repeated.isEmpty else {
            throw ValidationError("\(source): each class name must be given once; repeated: "
                + repeated.map { "\($0) (\(seen[$0]!) times)" }.joined(separator: ", "))
        }
        return names
    }

    func run() throws {
        try reportingErrors {
            let names = try classNames()
            let embedder = try modelOptions.embedder()
            let classifier: ZeroShotClassifier
            do {
                classifier = try ZeroShotClassifier(embedder: embedder, labels: names,
                                                    templates: template.isEmpty ? PromptTemplates.defaultEnsemble : template)
            } catch EngineError.badArgument("labels", let reason) {
                throw ValidationError("\(labels != nil ? "--labels" : "--labels-file"): \(reason)")  // a usage error, as exact repeats are
            }
            let walk = FolderWalker().walk(RawArguments.paths(paths))
            for s in walk.skipped { Console.warning("skipped \(s.path): \(s.reason)") }
            for f in walk.failed { Console.error("\(f.path): \(f.reason)") }
            if csv { print((["path", "label", "score"] + names).map(csvField).joined(separator: ",")) }
            var failed = !walk.failed.isEmpty
            for start in stride(from: 0, to: walk.images.count, by: embedder.batchSize) {
                let batch = Array(walk.images[start..<min(start + embedder.batchSize, walk.images.count)])
                for (path, result) in zip(batch, embedder.embedImages(batch)) {
                    switch result {
                    case .failure(let error):
                        let message = "\(error)"   // errors of the file and image layers start with the path
                        Console.error(message.hasPrefix(path.description) ? message : "\(path): \(message)"); failed = true
                    case .success(let vector):
                        emit(path, classifier.classify(vector), names)
                    }
                }
            }
            if failed { throw ExitCode(1) }
        }
    }

    func emit(_ path: FilePathBytes, _ r: LabelResult, _ names: [String]) {
        let bestP = r.probabilities[r.best]
        let label = unknownBelow.map { bestP < $0 } == true ? "unknown" : names[r.best]
        if json {
            let order = (try? r.ranking(top: top)) ?? []
            Console.emit(.object(JSONValue.path("path", path) + [
                ("label", .string(label)), ("score", .float(bestP)),
                ("scores", .object(zip(names, r.probabilities).map { ($0, .float($1)) })),
                ("top", .array(order.map { .object([("label", .string(names[$0])), ("score", .float(r.probabilities[$0]))]) })),
            ]))
        } else if csv {
            // The exact bytes of the name (quoted when needed), then the rest of the row.
            let rest = ([csvField(label), "\(bestP)"] + r.probabilities.map { "\($0)" }).joined(separator: ",")
            Console.writeStdout(csvField(path.bytes) + Array(("," + rest + "\n").utf8))
        } else {
            // Class names escaped as file names are: a tab or line break in one cannot add a field.
            print(String(format: "%@\t%@\t%.4f", path.description, Console.field(label), bestP))
        }
    }
}

/// A CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF; quotes doubled.
func csvField(_ s: String) -> String { String(decoding: csvField(Array(s.utf8)), as: UTF8.self) }

func csvField(_ b: [UInt8]) -> [UInt8] {
    guard b.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else { return b }
    return [0x22] + b.flatMap { $0 == 0x22 ? [0x22, 0x22] : [$0] } + [0x22]
}
