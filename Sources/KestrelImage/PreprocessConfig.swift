import Foundation

/// How a checkpoint's ecosystem preprocesses images. The references disagree (DESIGN.md):
/// - `.huggingFace`: transformers' PIL `CLIPImageProcessor` (class `CLIPImageProcessorPil` in
///   transformers 5): convert to RGB first (compositing transparency onto white), resize,
///   centre crop at floor((H - S) / 2) (zero-padded if smaller), `Float(Double(v) * factor)`, normalise.
/// - `.openCLIP`: `open_clip.image_transform(is_train=False)`: resize and crop in the file's own
///   mode (P and 1 nearest, RGBA/LA premultiplied), crop at Python's
///   round-half-even((H - S) / 2), then `convert("RGB")` (alpha dropped), `Float(v) / 255`, normalise.
public struct PreprocessConfig: Sendable, Equatable {
    public enum Ecosystem: String, Sendable { case huggingFace, openCLIP }
    public enum AlphaHandling: String, Sendable { case compositeOnWhite, drop }
    public enum Resize: Sendable, Equatable {
        case shortestEdge(Int)  // long side = Int(size * long / short), truncated
        case exact(height: Int, width: Int)
    }

    public var ecosystem: Ecosystem
    /// nil: no resize (`do_resize: false`).
    public var resize: Resize?
    /// nil: no crop (`do_center_crop: false`).
    public var crop: (height: Int, width: Int)? {
        get { cropHeight.map { ($0, cropWidth!) } }
        set { cropHeight = newValue?.height; cropWidth = newValue?.width }
    }
    private var cropHeight: Int?
    private var cropWidth: Int?
    public var filter: ResampleFilter
    /// Hugging Face `rescale_factor` (nil: `do_rescale: false`). OpenCLIP always divides by 255.
    public var rescaleFactor: Double?
    /// nil: no normalisation.
    public var mean: [Float]?
    public var std: [Float]?
    /// What happens to alpha and palette/colour-key transparency. Defaults follow the
    /// ecosystem (HF composites on white, OpenCLIP drops); set it to override.
    public var alpha: AlphaHandling

    public static let openAIMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let openAIStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// Hugging Face CLIP defaults (`CLIPImageProcessor` class attributes) at `size`.
    public static func huggingFace(size: Int = 224) -> PreprocessConfig {
        PreprocessConfig(
            ecosystem: .huggingFace, resize: .shortestEdge(size), cropHeight: size, cropWidth: size,
            filter: .bicubic, rescaleFactor: 1.0 / 255.0, mean: openAIMean, std: openAIStd,
            alpha: .compositeOnWhite)
    }

    /// OpenCLIP defaults (`PreprocessCfg`: OpenAI mean/std, bicubic, `shortest`) at `size`.
    public static func openCLIP(size: Int = 224) -> PreprocessConfig {
        PreprocessConfig(
            ecosystem: .openCLIP, resize: .shortestEdge(size), cropHeight: size, cropWidth: size,
            filter: .bicubic, rescaleFactor: 1.0 / 255.0, mean: openAIMean, std: openAIStd, alpha: .drop)
    }

    public static func == (a: PreprocessConfig, b: PreprocessConfig) -> Bool {
        a.ecosystem == b.ecosystem && a.resize == b.resize && a.cropHeight == b.cropHeight
            && a.cropWidth == b.cropWidth && a.filter == b.filter && a.rescaleFactor == b.rescaleFactor
            && a.mean == b.mean && a.std == b.std && a.alpha == b.alpha
    }

    /// Detects the folder layout: `open_clip_config.json` -> OpenCLIP; `config.json` or
    /// `preprocessor_config.json` -> Hugging Face.
    public static func load(modelDirectory dir: URL) throws -> PreprocessConfig {
        let fm = FileManager.default
        if fm.fileExists(atPath: dir.appendingPathComponent("open_clip_config.json").path) {
            return try loadOpenCLIP(modelDirectory: dir)
        }
        if fm.fileExists(atPath: dir.appendingPathComponent("preprocessor_config.json").path)
            || fm.fileExists(atPath: dir.appendingPathComponent("config.json").path)
        {
            return try loadHuggingFace(modelDirectory: dir)
        }
        throw ImageError.badConfig(
            path: dir.path, detail: "no open_clip_config.json, config.json or preprocessor_config.json")
    }

    /// Resize and crop sizes a config may ask for (each side), in pixels.
    public static let sizeLimit = 1...16_384
    /// Config files are read whole; no real one comes near this.
    static let configByteLimit = 16 << 20

    private static func readJSON(_ url: URL) throws -> [String: Any] {
        // stat first: a FIFO would block the read forever and /dev/zero would never end.
        var st = stat()
        guard stat(url.path, &st) == 0 else { throw ImageError.badConfig(path: url.path, detail: "missing file") }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw ImageError.badConfig(path: url.path, detail: "it is a directory, not a file")
        case S_IFIFO: throw ImageError.badConfig(path: url.path, detail: "it is a FIFO (named pipe), not a file")
        case S_IFCHR, S_IFBLK: throw ImageError.badConfig(path: url.path, detail: "it is a device, not a file")
        default: throw ImageError.badConfig(path: url.path, detail: "it is not a regular file")
        }
        guard Int(st.st_size) <= configByteLimit else {
            throw ImageError.badConfig(path: url.path, detail: "\(st.st_size) bytes; a config file is at most \(configByteLimit >> 20) MB")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ImageError.badConfig(path: url.path, detail: "cannot open it (check its permissions)")
        }
        do {
            let obj = try JSONSerialization.jsonObject(with: data)
            guard let dict = obj as? [String: Any] else { throw ImageError.badConfig(path: url.path, detail: "not a JSON object") }
            return dict
        } catch let e as ImageError { throw e } catch {
            throw ImageError.badConfig(path: url.path, detail: JSONDiagnostics.invalidJSON(error, data))
        }
    }

    private static func int(_ v: Any?) -> Int? {
        guard let v, !JSONDiagnostics.isBool(v) else { return nil }
        return (v as? NSNumber).flatMap { Int(exactly: $0.doubleValue) }
    }

    /// A flag: absent or null is `fallback`; a boolean (or a number, as Python's truth) its
    /// value; a string or list is an error naming the field.
    private static func flag(_ v: Any?, _ path: String, _ field: String, _ fallback: Bool = true) throws -> Bool {
        guard let v, !(v is NSNull) else { return fallback }
        guard let n = v as? NSNumber else {
            throw ImageError.badConfig(path: path, detail: "\(field) must be true or false, got \(JSONDiagnostics.jsonText(v))")
        }
        return n.boolValue
    }

    /// A string field: absent is `fallback`; anything else that is not a string (a number, a
    /// list, null) is an error naming the field and the values it may take.
    private static func string(_ d: [String: Any], _ key: String, _ fallback: String, _ path: String, _ field: String, choices: String) throws -> String {
        guard let v = d[key] else { return fallback }
        guard let s = v as? String else {
            throw ImageError.badConfig(path: path, detail: "\(field) must be a string (\(choices)), got \(JSONDiagnostics.jsonText(v))")
        }
        return s
    }

    /// A resize or crop size: an integer in `sizeLimit`, else an error naming `field`.
    private static func size(_ v: Any?, _ path: String, _ field: String) throws -> Int? {
        guard let v else { return nil }
        guard let n = int(v), sizeLimit.contains(n) else {
            throw ImageError.badConfig(path: path, detail: "\(field) is \(JSONDiagnostics.jsonText(v)); sizes are integers in \(sizeLimit.lowerBound)...\(sizeLimit.upperBound)")
        }
        return n
    }

    /// A JSON number as Python reads it (correctly rounded double). Foundation's
    /// JSONSerialization may hold numbers as decimals whose `doubleValue` is off by an ulp
    /// (0.00392156862745098 is not 1/255 that way), so numbers are re-parsed from their text.
    private static func double(_ v: Any?) -> Double? {
        guard let v, !JSONDiagnostics.isBool(v), let n = v as? NSNumber else { return nil }
        return Double(n.description) ?? n.doubleValue
    }
    /// The smallest std accepted: (x - mean) / std stays far from float32's range (at most 1e6
    /// for pixels in 0...1), where a std of 1e-45 gives infinities in the model's output.
    public static let minimumStd = 1e-6

    /// Mean or std: one number or three, each finite (and at least `minimumStd` when `positive`).
    private static func floats(_ v: Any?, _ path: String, _ key: String, positive: Bool = false) throws -> [Float]? {
        guard let v else { return nil }
        // Python holds float64 and numpy/torch round it to float32: Float(Double), not Float(text).
        let values: [Float]
        if let d = double(v) {
            values = [Float](repeating: Float(d), count: 3)
        } else if let a = v as? [Any], a.count == 3, case let ds = a.compactMap(double), ds.count == 3 {
            values = ds.map { Float($0) }
        } else {
            throw ImageError.badConfig(path: path, detail: "\(key) must be a number or 3 numbers")
        }
        guard values.allSatisfy({ $0.isFinite && (!positive || $0 > 0) }) else {
            throw ImageError.badConfig(path: path, detail: "\(key) is \(JSONDiagnostics.jsonText(v)); it must be \(positive ? "positive and " : "")finite")
        }
        if positive, let tiny = values.first(where: { Double($0) < minimumStd }) {
            throw ImageError.badConfig(path: path, detail: "\(key) holds \(tiny); each value must be at least \(minimumStd) (a smaller std makes normalised pixels overflow float32)")
        }
        return values
    }

    /// Hugging Face: `preprocessor_config.json` over `CLIPImageProcessor`'s defaults. Without
    /// that file, size and crop come from `config.json`'s `vision_config.image_size` (else 224).
    public static func loadHuggingFace(modelDirectory dir: URL) throws -> PreprocessConfig {
        let pp = dir.appendingPathComponent("preprocessor_config.json")
        guard FileManager.default.fileExists(atPath: pp.path) else {
            let cfgURL = dir.appendingPathComponent("config.json")
            let cfg = try readJSON(cfgURL)
            let size = try size((cfg["vision_config"] as? [String: Any])?["image_size"], cfgURL.path, "vision_config.image_size") ?? 224
            return huggingFace(size: size)
        }
        let path = pp.path
        let j = try readJSON(pp)
        var c = huggingFace()
        func flag(_ k: String) throws -> Bool { try Self.flag(j[k], path, k) }
        if let s = j["size"] {
            if s is NSNumber, !JSONDiagnostics.isBool(s), let n = try size(s, path, "size") {
                c.resize = .shortestEdge(n)
            } else if let d = s as? [String: Any], let n = try size(d["shortest_edge"], path, "size.shortest_edge") {
                c.resize = .shortestEdge(n)
            } else if let d = s as? [String: Any], let h = try size(d["height"], path, "size.height"),
                      let w = try size(d["width"], path, "size.width") {
                c.resize = .exact(height: h, width: w)
            } else {
                throw ImageError.badConfig(path: path, detail: "size must be a number, or have shortest_edge, or height and width; got \(JSONDiagnostics.jsonText(s))")
            }
        }
        if let s = j["crop_size"] {
            if s is NSNumber, !JSONDiagnostics.isBool(s), let n = try size(s, path, "crop_size") {
                c.crop = (n, n)
            } else if let d = s as? [String: Any], let h = try size(d["height"], path, "crop_size.height"),
                      let w = try size(d["width"], path, "crop_size.width") {
                c.crop = (h, w)
            } else {
                throw ImageError.badConfig(path: path, detail: "crop_size must be a number, or have height and width; got \(JSONDiagnostics.jsonText(s))")
            }
        }
        if try !flag("do_resize") { c.resize = nil }
        if try !flag("do_center_crop") { c.crop = nil }
        if let value = j["resample"], !(value is NSNull) {
            guard let r = int(value) else {
                throw ImageError.badConfig(path: path, detail: "resample must be an integer (2 bilinear, 3 bicubic), got \(JSONDiagnostics.jsonText(value))")
            }
            switch r {
            case 2: c.filter = .bilinear
            case 3: c.filter = .bicubic
            default: throw ImageError.badConfig(path: path, detail: "resample \(r) (only 2 bilinear, 3 bicubic)")
            }
        }
        if let v = j["rescale_factor"] {
            guard let f = double(v), f.isFinite, f > 0, f <= 1 else {
                throw ImageError.badConfig(path: path, detail: "rescale_factor is \(v); it must be in (0, 1] (1/255 for 8-bit pixels)")
            }
            c.rescaleFactor = f
        }
        if try !flag("do_rescale") { c.rescaleFactor = nil }
        if let m = try floats(j["image_mean"], path, "image_mean") { c.mean = m }
        if let s = try floats(j["image_std"], path, "image_std", positive: true) { c.std = s }
        if try !flag("do_normalize") { c.mean = nil; c.std = nil }
        // do_convert_rgb: false is not honoured: the model consumes 3 channels either way.
        return c
    }

    /// OpenCLIP: `open_clip_config.json` -> `preprocess_cfg` (size, mean, std, interpolation,
    /// resize_mode), the size falling back to `model_cfg.vision_cfg.image_size`, then 224.
    public static func loadOpenCLIP(modelDirectory dir: URL) throws -> PreprocessConfig {
        let url = dir.appendingPathComponent("open_clip_config.json")
        let path = url.path
        let j = try readJSON(url)
        let pp = j["preprocess_cfg"] as? [String: Any] ?? [:]
        let vision = (j["model_cfg"] as? [String: Any])?["vision_cfg"] as? [String: Any]
        let sizeAny = pp["size"] ?? vision?["image_size"] ?? 224
        let field = pp["size"] != nil ? "preprocess_cfg.size" : "model_cfg.vision_cfg.image_size"
        var size: Int
        if sizeAny is NSNumber, let n = try Self.size(sizeAny, path, field) {
            size = n
        } else if let a = sizeAny as? [NSNumber], a.count == 2, a[0] == a[1], let n = try Self.size(a[0], path, field) {
            size = n
        } else {
            throw ImageError.badConfig(path: path, detail: "\(field): non-square image size \(sizeAny) is not supported")
        }
        var c = openCLIP(size: size)
        if let m = try floats(pp["mean"], path, "preprocess_cfg.mean") { c.mean = m }
        if let s = try floats(pp["std"], path, "preprocess_cfg.std", positive: true) { c.std = s }
        switch try string(pp, "interpolation", "bicubic", path, "preprocess_cfg.interpolation", choices: "\"bicubic\" or \"bilinear\"") {
        case "bicubic", "random": c.filter = .bicubic
        case "bilinear": c.filter = .bilinear
        case let other: throw ImageError.badConfig(path: path, detail: "preprocess_cfg.interpolation \"\(other)\" is not supported (\"bicubic\" or \"bilinear\")")
        }
        switch try string(pp, "resize_mode", "shortest", path, "preprocess_cfg.resize_mode", choices: "\"shortest\" or \"squash\"") {
        case "shortest": break
        case "squash": c.resize = .exact(height: size, width: size)
        case let other: throw ImageError.badConfig(path: path, detail: "preprocess_cfg.resize_mode \"\(other)\" is not supported (\"shortest\" or \"squash\")")
        }
        return c
    }
}
