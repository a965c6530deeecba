import Foundation
import KestrelModels

/// Fashion-MNIST (Debian `dataset-fashion-mnist`, MIT): 60,000 training and 10,000 test 28×28
/// gray pictures of ten clothing classes. Written as 8-bit gray PNGs under
/// fashion-mnist/{train,test}/<class>/NNNNN.png; the test split is never trained on and listed in
/// eval/fashion-mnist-test.csv (path,label).
public enum FashionMNISTSource {
    public static let package = "dataset-fashion-mnist"
    public static let folder = "/usr/share/datasets/fashion-mnist"
    public static let licence = "MIT"

    /// Class names in plain words, in label order 0...9.
    public static let classNames = ["t-shirt", "trousers", "pullover", "dress", "coat",
                                    "sandal", "shirt", "sneaker", "bag", "ankle boot"]
    /// Other words for each class, used in some captions.
    public static let synonyms: [[String]] = [
        ["tee", "t-shirt", "top", "tee shirt"], ["pants", "trousers", "pair of trousers"], ["sweater", "jumper", "pullover"],
        ["dress", "frock"], ["coat", "jacket", "overcoat"], ["sandal", "summer sandal"], ["shirt", "button-up shirt"],
        ["sneaker", "trainer", "running shoe"], ["bag", "handbag", "purse"], ["ankle boot", "boot", "short boot"],
    ]
    /// Templates besides the evaluation ensemble (`{}` = class name or synonym).
    static let extraTemplates = [
        "a black and white photo of a {}.", "a {}", "a product photo of a {}.", "a grayscale picture of a {}.",
        "a low resolution photo of a {}.", "a {} on a black background.", "a picture of a {}.", "a photo of one {}.",
        "a small image of a {}.", "clothing: a {}.",
    ]

    /// 4 captions for sample `index` of class `label`: two from the evaluation ensemble (with the
    /// class name), one plain template with a synonym, one plain template with the class name.
    public static func captions(label: Int, index: Int, seed: UInt64) -> [String] {
        var rng = TrainingRNG(seed: seed ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15) ^ 0xFA5)
        let name = classNames[label]
        let ens = PromptTemplates.defaultEnsemble
        let a = Int(rng.next() % UInt64(ens.count))
        var b = Int(rng.next() % UInt64(ens.count - 1)); if b >= a { b += 1 }
        let syn = synonyms[label][Int(rng.next() % UInt64(synonyms[label].count))]
        let t1 = extraTemplates[Int(rng.next() % UInt64(extraTemplates.count))]
        var t2 = extraTemplates[Int(rng.next() % UInt64(extraTemplates.count))]
        if t2 == t1 { t2 = "a photo of a {}." == ens[a] ? "a {}" : "a photo of a {}." }
        // The ensemble's phrasings exactly as evaluation fills them ("a photo of a ankle boot.");
        // the other templates with the article fixed.
        let raw = { (t: String, w: String) in PromptTemplates.fill(t, with: w) }
        let fixed = { (t: String, w: String) in PromptTemplates.fill(t, with: w).replacingOccurrences(of: "a ankle", with: "an ankle") }
        return [raw(ens[a], name), raw(ens[b], name), fixed(t1, syn), fixed(t2, name)]
    }

    /// Reads one split's images and labels (checks magic numbers and sizes; 28×28 images).
    public static func load(split: String) throws -> (images: IDXFile, labels: IDXFile) {
        let prefix = split == "train" ? "train" : "t10k"
        let images = try IDXFile.read(gzipPath: "\(folder)/\(prefix)-images-idx3-ubyte.gz", package: package, expectedDimensions: 3)
        let labels = try IDXFile.read(gzipPath: "\(folder)/\(prefix)-labels-idx1-ubyte.gz", package: package, expectedDimensions: 1)
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw DataBuildError.damaged(path: "\(folder)/\(prefix)-labels-idx1-ubyte.gz",
                                         detail: "\(labels.dimensions[0]) labels for \(images.dimensions[0]) images")
        }
        if let bad = labels.data.first(where: { $0 >= 10 }) {
            throw DataBuildError.damaged(path: "\(folder)/\(prefix)-labels-idx1-ubyte.gz", detail: "label \(bad) outside 0...9")
        }
        return (images, labels)
    }

    /// Writes both splits. `progress` gets short status lines.
    public static func build(sink: ImageSink, seed: UInt64, threads: Int, progress: @Sendable (String) -> Void) throws -> SourceOutput {
        var output = SourceOutput()
        var evalRows = [[String]]()
        for split in ["train", "test"] {
            let (images, labels) = try load(split: split)
            let count = images.dimensions[0], rows = images.dimensions[1], cols = images.dimensions[2]
            let manifestSplit = split == "train" ? "train" : "test"
            for name in classNames { try sink.makeFolder("fashion-mnist/\(split)/\(DataText.slug(name))") }
            progress("fashion-mnist: writing \(count) \(split) images")
            let imageData = images.data, labelData = labels.data
            let entries: [ManifestEntry] = try parallelMap(count, threads: threads) { i in
                let label = Int(labelData[i])
                let path = String(format: "fashion-mnist/%@/%@/%05d.png", split, DataText.slug(classNames[label]), i)
                let px = Array(imageData[(i * rows * cols)..<((i + 1) * rows * cols)])
                let sha = try sink.writePNG(path, pixels: px, width: cols, height: rows, channels: 1)
                let caps = manifestSplit == "train" ? captions(label: label, index: i, seed: seed)
                                                    : ["a photo of a \(classNames[label])."]
                return ManifestEntry(path: path, captions: caps, split: manifestSplit, source: "fashion-mnist",
                                     licence: licence, label: classNames[label], sha256: sha, group: classNames[label])
            }
            if split == "test" { evalRows = entries.map { [$0.path, $0.label ?? ""] } }
            output.entries += entries
        }
        output.evalFiles["fashion-mnist-test.csv"] = (["path", "label"], evalRows)
        return output
    }
}
