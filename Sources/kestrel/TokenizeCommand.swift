import ArgumentParser
import Foundation
import KestrelEngine

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize JSON lines {\"text\": ...} from stdin into CLIP token ids.",
        discussion: """
            Writes one line {"text": ..., "ids": [...]} per input line: start token, ids, end token,
            zero padded to the context length (77), as OpenAI CLIP does. Texts longer than the
            context are truncated with the end token kept last.
            """)

    @Option(name: .long, help: "A bpe_simple_vocab_16e6.txt.gz file (default: the bundled one).")
    var vocab: String?

    @Option(name: .long, help: "A model folder: use its tokenizer (vocab.json + merges.txt, else the bundled vocabulary).")
    var model: String?

    func validate() throws {
        if vocab != nil && model != nil { throw ValidationError("give --vocab or --model, not both") }
        if model == "" { throw ValidationError("--model needs a folder name; '' names none") }
        if let vocab {
            // A FIFO, a folder or a device is named for what it is (reading one could block or never end).
            let path = RawArguments.path(vocab)
            if let status = try? FileSystem.status(path), status.kind != .regular {
                throw ValidationError("--vocab \(FileError.notRegularFile(path: path, kind: status.kind))")
            }
        }
    }

    func run() throws {
        let (tokenizer, context) = try reportingErrors { try loadTokenizer() }
        var failures = 0
        var lineNumber = 0
        while let line = readLine(strippingNewline: true) {
            lineNumber += 1
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let text = object["text"] as? String
            else {
                Console.error("stdin line \(lineNumber): expected a JSON object with a string field \"text\"")
                failures += 1
                continue
            }
            let ids = tokenizer.tokenize(text, contextLength: context, pad: true)
            Console.emit(.object([("text", .string(text)), ("ids", .ints(ids))]))
        }
        if failures > 0 { throw ExitCode(1) }
    }

    /// The tokenizer and context length (77, or the model's).
    func loadTokenizer() throws -> (CLIPTokenizer, Int) {
        guard let model else {
            return (try CLIPTokenizer(bpeGzip: vocab.map { try RawArguments.textURL($0, option: "--vocab") } ?? BundledFiles.vocabulary()), 77)
        }
        let dir = try RawArguments.textURL(model, option: "--model")
        let (layout, configURL, _) = try CLIPModel.detectLayout(dir)
        let config = try CLIPConfig.load(configURL, layout: layout)
        let tokenizer = try CLIPTokenizer(modelDirectory: dir, fallbackVocab: try BundledFiles.vocabulary(),
                                          normalization: layout.textNormalization)
        return (tokenizer, config.contextLength)
    }
}
