import ArgumentParser
import Foundation
import KestrelEngine
import KestrelFiles
import KestrelGrounding
import KestrelImage

/// `kestrel ground`: where in each picture the queried thing is.
struct GroundCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ground",
        abstract: "Find where a text (or an example image) is in pictures: boxes and heat maps.",
        discussion: """
            With an OWL-ViT or OWLv2 folder (--model, config.json "model_type" owlvit/owlv2) the
            detector's heads give the boxes; with any CLIP folder (the default model included) a
            training-free dense heat map does (docs/grounding.md). Output: one line per box,
            best first per image: image, query, box [x0, y0, x1, y1] in the original picture's
            pixels, score; --json gives JSON lines {"image", "query", "box", "score"}
            ("image_bytes" and "query_bytes", base64, when a file name is not UTF-8). --heatmap DIR writes one PNG per
            image and query: the heat map over the picture with the boxes drawn. An image that
            cannot be used gets an `error:` line and the exit status is 1; the others still run.
            """)

    @Option(name: .long, help: "Model folder: OWL-ViT/OWLv2 or any CLIP. Default: the model shipped with Kestrel (or $KESTREL_MODEL).")
    var model: String?
    @Option(name: .long, help: "A text query (repeatable).") var text: [String] = []
    @Option(name: .long, help: "An example image: find things that look like it (repeatable).") var imageQuery: [String] = []
    @Option(name: .long, parsing: .unconditional, help: "Keep boxes scoring at least this, -1 to 1 (default: the grounder's own; see docs/grounding.md).") var threshold: Float?
    @Option(name: .long, parsing: .unconditional, help: "Non-maximum suppression IoU, 0 to 1 (default 0.3).") var nms: Double = 0.3
    @Option(name: .long, parsing: .unconditional, help: "At most this many boxes per query and image, at least 1.") var maxBoxes = 10
    @Option(name: .long, help: "Write heat-map PNGs into this folder (made if missing).") var heatmap: String?
    @Flag(name: .long, help: "JSON lines output.") var json = false
    @Option(name: .long, help: "CLIP models: the dense method, maskclip, clearclip or naclip (default \(DenseMethod.standard.rawValue); docs/grounding.md).")
    var denseMethod: String?
    @Option(name: .long, help: "CLIP models: how the picture becomes square, resize or pad (default resize; no crop either way).")
    var fit: String?
    @Flag(name: .long, help: "CLIP models: re-score each box by the full image tower on its crop (slower; the score is then the crop's cosine).")
    var refine = false
    @Option(name: .long, parsing: .unconditional, help: "Refuse images with more pixels than this, at least 1 (decompression-bomb guard).")
    var pixelLimit: Int?
    @OptionGroup var imageOptions: ImageOptions
    @OptionGroup var precisionOptions: PrecisionOptions
    @Argument(help: "Image files.") var images: [String] = []

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image file") }
        if text.isEmpty && imageQuery.isEmpty { throw ValidationError("give at least one --text or --image-query") }
        try RawArguments.requireUTF8(text, option: "--text")
        try RawArguments.requireWords(text, option: "--text")
        if model == "" { throw ValidationError("--model needs a folder name; '' names none") }
        if let threshold, !GroundingOptions.thresholdRange.contains(threshold) { throw ValidationError("--threshold is a score from -1 to 1, got \(threshold)") }
        guard (0...1).contains(nms) else { throw ValidationError("--nms is an IoU from 0 to 1, got \(nms)") }
        guard maxBoxes >= 1 else { throw ValidationError("--max-boxes must be at least 1, got \(maxBoxes)") }
        if let denseMethod, DenseMethod(rawValue: denseMethod) == nil {
            throw ValidationError("--dense-method is one of \(DenseMethod.allCases.map(\.rawValue).joined(separator: ", ")), got '\(denseMethod)'")
        }
        if let fit, SquareFit(rawValue: fit) == nil {
            throw ValidationError("--fit is one of \(SquareFit.allCases.map(\.rawValue).joined(separator: ", ")), got '\(fit)'")
        }
        if heatmap == "" { throw ValidationError("--heatmap needs a folder name; '' names none") }
        if let pixelLimit, pixelLimit < 1 { throw ValidationError("--pixel-limit must be at least 1, got \(pixelLimit)") }
    }

    func run() throws {
        try reportingErrors {
            let folder = try modelFolder(model)
            // Dense settings given on a detector folder are a usage error naming the flags (the loader
            // refuses them too), never ignored.
            let given = [denseMethod.map { _ in "--dense-method" }, fit.map { _ in "--fit" }, refine ? "--refine" : nil].compactMap { $0 }
            if !given.isEmpty, let type = try GrounderLoader.detectorType(folder) {
                throw ValidationError("\(given.joined(separator: ", ")) \(given.count == 1 ? "applies" : "apply") to CLIP models; \(folder.path) is an \(type) detector, whose own heads give the boxes")
            }
            let dense = given.isEmpty ? nil : DenseGroundingSettings(
                method: denseMethod.flatMap(DenseMethod.init(rawValue:)) ?? .standard,
                fit: fit.flatMap(SquareFit.init(rawValue:)) ?? .resize, refine: refine)
            let grounder = try GrounderLoader.load(folder, precision: precisionOptions.value, dense: dense)
            for t in text {   // a text the model can never take: one usage error, not one per image
                do { try grounder.check(text: t) } catch { throw ValidationError("--text: \(error)") }
            }
            let decoder = ImageDecoder(pixelLimit: pixelLimit ?? ImageDecoder.defaultPixelLimit, orientation: imageOptions.orientation.handling)
            var queries: [GroundingQuery] = text.map { .text($0) }
            // An image query's file name as the file system gives it (bytes), for the output.
            var queryPaths = [FilePathBytes?](repeating: nil, count: text.count)
            for q in imageQuery {
                // A query is asked of every image: one that cannot be used is a usage error.
                let path = RawArguments.path(q)
                do {
                    queries.append(.image(try decoder.decode(path: path), name: path.lossyString))
                    queryPaths.append(path)
                } catch {
                    throw ValidationError("--image-query: \(error)")
                }
            }
            let outFolder = heatmap.map(RawArguments.path)
            if let outFolder {
                // The folder is made and tried once, before any image: not found unwritable per image.
                do {
                    try FileSystem.makeDirectories(outFolder)
                    let probe = outFolder.appending(Array(".kestrel-write-test-\(getpid())".utf8))
                    try FileSystem.writeFileAtomically([], to: probe)
                    try FileSystem.removeFile(probe)
                } catch {
                    throw ValidationError("--heatmap \(outFolder.description): cannot write heat maps there: \(error)")
                }
            }
            let options = GroundingOptions(threshold: threshold, nmsIoU: nms, maxPerQuery: maxBoxes, heatmaps: outFolder != nil)
            var failed = false
            for (n, name) in images.enumerated() {
                let path = RawArguments.path(name)
                do {
                    let image = try decoder.decode(path: path)
                    let result = try grounder.ground(image, queries: queries, options: options)
                    for d in result.detections { emit(d, image: path, queries: queries, queryPaths: queryPaths) }
                    if let outFolder {
                        for (q, map) in result.heatmaps.enumerated() {
                            let boxes = result.detections.filter { $0.query == q }.map(\.box)
                            let png = try HeatMapImage.overlayPNG(image, heatmap: map, boxes: boxes)
                            let file = outFolder.appending(Array(GroundCommand.heatmapName(image: n, path: path, query: q).utf8))
                            try FileSystem.writeFileAtomically(png, to: file)
                        }
                    }
                } catch {
                    // Image errors name their file already.
                    let message = "\(error)"
                    Console.error(message.contains(path.description) ? message : "\(path.description): \(message)")
                    failed = true
                }
            }
            if failed { throw ExitCode(1) }
        }
    }

    /// `<n>-<image stem>-q<query>.png`: the image's position keeps names apart when two inputs share a stem.
    static func heatmapName(image n: Int, path: FilePathBytes, query q: Int) -> String {
        let base = path.lossyString.split(separator: "/").last.map(String.init) ?? "image"
        let stem = base.split(separator: ".").dropLast().joined(separator: ".")
        let safe = String((stem.isEmpty ? base : stem).map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }.prefix(60))
        return "\(n)-\(safe)-q\(q).png"
    }

    /// One box: JSON `{"image", "query", "box", "score"}` (an image query's file name not in UTF-8
    /// also as `"query_bytes"`, base64, as `"image_bytes"` for the image), or a plain line.
    private func emit(_ d: Detection, image: FilePathBytes, queries: [GroundingQuery], queryPaths: [FilePathBytes?]) {
        let box = d.box.array.map { ($0 * 100).rounded() / 100 }
        let queryPath = queryPaths[d.query]
        if json {
            let query = queryPath.map { JSONValue.path("query", $0) } ?? [("query", .string(queries[d.query].label))]
            Console.emit(.object(JSONValue.path("image", image) + query + [("box", .array(box.map { .double($0) })), ("score", .float(d.score))]))
        } else {
            print(String(format: "%@  %@  [%.1f, %.1f, %.1f, %.1f]  %.4f", image.description,
                         queryPath?.description ?? PathText.escapeControls(queries[d.query].label),
                         box[0], box[1], box[2], box[3], d.score))
        }
    }
}
