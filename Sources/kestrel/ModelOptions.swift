import ArgumentParser
import Foundation
import KestrelEngine

/// Options shared by every command that reads image files (embed, label, index add, search --image).
struct ImageOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "EXIF orientation of photos: 'exif' turns them upright as viewers show them (default); 'ignore' uses the pixels as stored, as the reference pipelines (PIL.Image.open) do. An index keeps the setting it was built with.",
        valueName: "exif|ignore"))
    var orientation: OrientationOption = .exif

    @Option(name: .long, help: ArgumentHelp(
        "JPEG decoding: 'fast' decodes large JPEGs at a reduced scale in the DCT domain (libjpeg-turbo, still at least twice the model's resize size) before the exact resize, several times faster on photos; 'exact' decodes every pixel, bit-identical to the reference pipelines. Default: what the index records, else fast. An index keeps the setting it was built with.",
        valueName: "fast|exact"))
    var jpegDecode: JPEGDecodeOption?
}

/// `--jpeg-decode fast|exact`.
enum JPEGDecodeOption: String, ExpressibleByArgument, CaseIterable {
    case fast, exact
    var decoding: JPEGDecoding { self == .fast ? .fast : .exact }
}

/// `--orientation exif|ignore`.
enum OrientationOption: String, ExpressibleByArgument, CaseIterable {
    case exif, ignore
    var handling: OrientationHandling { self == .exif ? .exif : .ignore }
}

/// `--precision fp32|bf16|int8`, on every command that runs a model.
struct PrecisionOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Number format of the model's products: fp32 (default, exact), bf16 (AVX512-BF16) or int8 (weights per output channel, AVX512-VNNI). Where this processor or build cannot run it, fp32 is used with a warning.",
        valueName: "fp32|bf16|int8"))
    var precision: String?

    func validate() throws {
        if let precision, Precision(rawValue: precision) == nil {
            throw ValidationError("--precision must be fp32, bf16 or int8, got '\(precision)'")
        }
    }

    /// The precision asked for; fp32 when the option is not given.
    var value: Precision { explicit ?? .fp32 }
    /// The precision given on the command line, nil when the option is left out.
    var explicit: Precision? { precision.flatMap(Precision.init(rawValue:)) }
}

/// Says on stderr why a model runs at another precision than asked (a `warning:` line).
func warnAboutPrecision(_ model: CLIPModel) {
    if let note = model.precisionNote { Console.warning(note) }
}

/// Options shared by the commands that run a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Model folder (Hugging Face or OpenCLIP layout). Default: the model shipped with Kestrel (or $KESTREL_MODEL).")
    var model: String?

    @OptionGroup var imageOptions: ImageOptions

    @OptionGroup var precisionOptions: PrecisionOptions

    @Option(name: .long, help: "Transparency: 'white' composites onto white (Hugging Face default), 'drop' discards alpha (OpenAI/OpenCLIP default).")
    var alpha: AlphaOption?

    @Option(name: .long, parsing: .unconditional, help: "Refuse images with more pixels than this, at least 1 (decompression-bomb guard).")
    var pixelLimit: Int?

    @Option(name: .long, parsing: .unconditional, help: "Inputs per model call, at least 1.")
    var batchSize: Int = 16

    func validate() throws {
        if model == "" { throw ValidationError("--model needs a folder name; '' names none") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if let pixelLimit, pixelLimit < 1 { throw ValidationError("--pixel-limit must be at least 1, got \(pixelLimit)") }
    }

    func embedder() throws -> Embedder {
        let url = try modelFolder(model)
        let embedder = try Embedder(modelDirectory: url, alpha: alpha?.handling, pixelLimit: pixelLimit,
                                    orientation: imageOptions.orientation.handling, batchSize: batchSize,
                                    precision: precisionOptions.value,
                                    jpegDecoding: imageOptions.jpegDecode?.decoding ?? Embedder.defaultJPEGDecoding)
        warnAboutPrecision(embedder.model)
        return embedder
    }
}

/// `--alpha white|drop`.
enum AlphaOption: String, ExpressibleByArgument {
    case white, drop
    var handling: PreprocessConfig.AlphaHandling { self == .white ? .compositeOnWhite : .drop }
}
