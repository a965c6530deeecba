import ArgumentParser
import Foundation
import KestrelEngine
import KestrelFiles
import KestrelGrounding

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Search an index by text, by example image, or for items like a stored one.",
        discussion: """
            With --json: one line {"rank", "id", "path", "score"} per result, best first ("path_bytes"
            too when a name is not UTF-8). --prefix compares bytes: `café` typed in NFC does not match
            a name spelled in NFD. A relative --prefix (img/) is taken from the current folder, as
            the paths given to `index add` and `index remove` are.
            With --grounded (needs --text) each result also carries the best box for the text in
            that item, "box": [x0, y0, x1, y1] in the picture's pixels and "box_score" (its peak
            patch cosine, docs/grounding.md), or "box": null with a warning when the file cannot
            be read now. Boxes are computed at query time for the k results only (one dense
            forward each, about the cost of embedding the image once); the index stores no regions.
            """)

    @Option(name: .long, help: ArgumentHelp(defaultIndexHelp)) var index = "Indexes/default"
    @Option(name: .long, help: "A text query.") var text: String?
    @Option(name: .long, help: "An example image.") var image: String?
    @Option(name: .long, parsing: .unconditional, help: "The id of a stored item: find items like it.") var like: Int64?
    @Option(name: .short, parsing: .unconditional, help: "Number of results, at least 1 (more than the index holds: all of them).") var k = 10
    @Option(name: .long, parsing: .unconditional, help: "Leave out results with a lower cosine score (a finite number; may be negative).") var minScore: Float?
    @Option(name: .long, help: "Only paths starting with this prefix.") var prefix: String?
    @Option(name: .long, help: "Model folder (default: the one the index was built with).") var model: String?
    @Flag(name: .long, help: "JSON lines output.") var json = false
    @Flag(name: .long, help: "With --text: the best box for the text in each result (dense CLIP heat map, computed for the k results).")
    var grounded = false
    @OptionGroup var imageOptions: ImageOptions
    /// Default: the precision the index's vectors were made at. A text query may be embedded at any
    /// precision; an image query only at the index's (as with --orientation and --jpeg-decode).
    @OptionGroup var precisionOptions: PrecisionOptions

    func validate() throws {
        let given = [text != nil, image != nil, like != nil].filter { $0 }.count
        guard given == 1 else { throw ValidationError("give exactly one of --text, --image, --like") }
        if grounded && text == nil { throw ValidationError("--grounded needs --text (the box is where the text is in each result)") }
        guard k >= 1 else { throw ValidationError("-k must be at least 1, got \(k)") }
        if let like, like < 0 { throw ValidationError("--like takes the id of a stored item (see `kestrel index list`), 0 or more, got \(like)") }
        try validateIndexOption(index)
        if model == "" { throw ValidationError("--model needs a folder name; '' names none") }
        if let text { try RawArguments.requireUTF8([text], option: "--text"); try RawArguments.requireWords([text], option: "--text") }
        if let minScore, !minScore.isFinite { throw ValidationError("--min-score must be a finite number, got \(minScore)") }
    }

    func run() throws {
        try reportingErrors {
            let catalog = try Catalog.open(RawArguments.absolutePath(index), warn: { Console.warning($0) })
            let query: SearchQuery = text.map { .text($0) } ?? image.map { .image(RawArguments.path($0)) } ?? .like(UInt64(like!))
            var loaded: Embedder?
            func embedder() throws -> Embedder {
                if let loaded { return loaded }
                let embedder = try queryEmbedder(catalog)
                // Same fingerprint and dimension: a renamed or copied model folder is the same model.
                try catalog.store.requireIdentity(try ModelFingerprint.identity(of: embedder.model))
                loaded = embedder
                return embedder
            }
            let vector = try catalog.queryVector(query, embedder: embedder)
            let results = try catalog.search(vector: vector, options: SearchOptions(k: k, minScore: minScore, pathPrefix: prefix.map(RawArguments.pathPrefix)),
                                             excluding: like.map(UInt64.init))
            let grounder = try grounded ? DenseCLIPGrounder(embedder: try embedder()) : nil
            for r in results {
                let best = grounder.flatMap { g -> Detection? in
                    // The bytes indexed, to check the file still holds them: without it, no box.
                    let stored: ItemRecord?
                    do { stored = try catalog.store.item(id: r.id) } catch {
                        Console.warning("\(r.path.description): no box: the store could not be read: \(ErrorText.plain(error))")
                        return nil
                    }
                    guard let stored else {
                        Console.warning("\(r.path.description): no box: item \(r.id) is no longer in the store")
                        return nil
                    }
                    return bestBox(g, text: text ?? "", path: r.path, contentHash: stored.contentHash)
                }
                if json {
                    var fields: [(String, JSONValue)] = [("rank", .int(r.rank)), ("id", .int(Int(r.id)))] + JSONValue.path("path", r.path)
                        + [("score", .float(r.score))]
                    if grounder != nil {
                        fields.append(("box", best.map { .array($0.box.array.map { .double(($0 * 100).rounded() / 100) }) } ?? .null))
                        fields.append(("box_score", best.map { .float($0.score) } ?? .null))
                    }
                    Console.emit(.object(fields))
                } else {
                    var line = String(format: "%3d  %.4f  %@  (id %llu)", r.rank, r.score, r.path.description, r.id)
                    if let best {
                        line += String(format: "  box [%.1f, %.1f, %.1f, %.1f] %.4f", best.box.x0, best.box.y0, best.box.x1, best.box.y1, best.score)
                    }
                    print(line)
                }
            }
        }
    }

    /// The best box for `text` in the picture at `path` (no threshold: the highest-scoring
    /// component of the heat map), nil with a warning when the file cannot be read or decoded, or
    /// when its bytes are no longer those indexed (`contentHash`, hex SHA-256): a box from another
    /// picture beside the indexed picture's score would be a wrong answer.
    func bestBox(_ grounder: DenseCLIPGrounder, text: String, path: FilePathBytes, contentHash: String) -> Detection? {
        do {
            let bytes = try ImageDecoder.read(path)
            if SHA256.hex(SHA256.hash(bytes)) != contentHash {
                Console.warning("\(path.description): no box: the file changed since it was indexed (run `kestrel index add` again to update it)")
                return nil
            }
            let image = try ImageDecoder(orientation: imageOptions.orientation.handling).decode(bytes: bytes, name: path.description)
            let options = GroundingOptions(threshold: -.infinity, nmsIoU: 1, maxPerQuery: 1)
            return try grounder.ground(image, queries: [.text(text)], options: options).detections.first
        } catch {
            Console.warning("\(path.description): no box: \(error)")
            return nil
        }
    }

    /// The model for a text or image query: --model, else the folder the index recorded. A
    /// recorded folder that is gone or no longer holds a model is a usage error naming it.
    func queryEmbedder(_ catalog: Catalog) throws -> Embedder {
        let orientation = imageOptions.orientation.handling
        // An image query is decoded as the index's images were, unless --jpeg-decode says otherwise.
        let jpeg = imageOptions.jpegDecode?.decoding ?? catalog.jpegDecoding ?? Embedder.defaultJPEGDecoding
        let precision = precisionOptions.explicit ?? catalog.precision
        if let model {
            let embedder = try Embedder(modelDirectory: try RawArguments.textURL(model, option: "--model"), orientation: orientation,
                                        precision: precision, jpegDecoding: jpeg)
            warnAboutPrecision(embedder.model)
            return embedder
        }
        guard let recorded = catalog.modelPath else { throw ValidationError("the index does not record its model: pass --model") }
        let shown = PathText.escape(Array(recorded.utf8))
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: recorded, isDirectory: &isFolder), isFolder.boolValue else {
            throw ValidationError("the model folder recorded in this index, \(shown), is gone; pass --model DIR"
                                  + " (the folder the model moved to, or a copy of it)")
        }
        do {
            let embedder = try Embedder(modelDirectory: URL(fileURLWithPath: recorded), orientation: orientation, precision: precision,
                                        jpegDecoding: jpeg)
            warnAboutPrecision(embedder.model)
            return embedder
        } catch ModelError.notAModelFolder {
            throw CommandFailure(message: "the model folder recorded in this index, \(shown), no longer holds a model"
                + " (no config.json + model.safetensors, nor open_clip_config.json + open_clip_model.safetensors); pass --model DIR")
        }
    }
}
