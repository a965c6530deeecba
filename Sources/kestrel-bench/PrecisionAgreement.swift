import Foundation
import KestrelEngine

/// `kestrel-bench precision-agreement --model DIR [--precisions bf16,int8] [--count N] IMAGE_DIR...`
///
/// How far reduced precision moves what users see, on real pictures: every image is embedded at
/// fp32 and at each reduced precision by the same model, then
///   - cosine of each reduced-precision image embedding to its fp32 twin (min, 1st percentile, mean),
///   - the zero-shot top-1 label at fp32 vs at the reduced precision, over labels made from the
///     images' folder names (openclipart-png files live in category folders: "food", "animals"),
///     text embedded at the same precision as the images.
/// Images: every PNG/JPEG under the folders, sorted bytewise, then every k-th so that at most
/// --count remain (deterministic; default 400).
func runPrecisionAgreement(args: [String]) throws {
    func value(_ name: String) -> String? {
        args.firstIndex(of: name).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil }
    }
    guard let model = value("--model") else {
        print("usage: kestrel-bench precision-agreement --model DIR [--precisions bf16,int8] [--count N] IMAGE_DIR...")
        return
    }
    let precisions = (value("--precisions") ?? "bf16,int8").split(separator: ",").compactMap { Precision(rawValue: String($0)) }
    let count = value("--count").flatMap(Int.init) ?? 400
    var roots: [String] = []
    var i = 0
    while i < args.count {
        if args[i].hasPrefix("--") { i += 2; continue }
        roots.append(args[i]); i += 1
    }
    var files: [String] = []
    for root in roots {
        let rootURL = URL(fileURLWithPath: root)
        guard let e = FileManager.default.enumerator(atPath: root) else { continue }
        for case let rel as String in e where ["png", "jpg", "jpeg"].contains((rel as NSString).pathExtension.lowercased()) {
            files.append(rootURL.appendingPathComponent(rel).path)
        }
    }
    files.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    if files.count > count {
        let step = Double(files.count) / Double(count)
        files = (0..<count).map { files[Int(Double($0) * step)] }
    }
    // Labels: the image's parent folder name, e.g. ".../png/food/desserts/x.png" -> "desserts".
    let folderOf = files.map { URL(fileURLWithPath: $0).deletingLastPathComponent().lastPathComponent.replacingOccurrences(of: "_", with: " ") }
    let labels = Array(Set(folderOf)).sorted()
    let prompts = labels.map { "a picture of \($0)" }
    print("images: \(files.count) from \(roots.joined(separator: ", ")); \(labels.count) labels from their folder names")

    func run(_ p: Precision) throws -> (images: [[Float]?], texts: [[Float]], used: String) {
        let embedder = try Embedder(modelDirectory: URL(fileURLWithPath: model), precision: p)
        let paths = files.map { FilePathBytes(Array($0.utf8)) }
        let images = embedder.embedImages(paths).map { try? $0.get() }
        let t = try embedder.embedTexts(prompts)
        let w = t.shape[1]
        let texts = (0..<t.shape[0]).map { Array(t.data[($0 * w)..<(($0 + 1) * w)]) }
        return (images, texts, "\(embedder.model.precision.rawValue) on \(embedder.model.gemmBackend)")
    }
    func dot(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
    func top1(_ image: [Float], _ texts: [[Float]]) -> Int {
        texts.indices.max { dot(image, texts[$0]) < dot(image, texts[$1]) }!
    }

    let reference = try run(.fp32)
    let failed = reference.images.filter { $0 == nil }.count
    if failed > 0 { print("(\(failed) images could not be read and are left out)") }
    print("reference: \(reference.used)")
    print("| precision | images | cosine to fp32: min | 1st percentile | mean | same top-1 label |")
    print("| --- | --- | --- | --- | --- | --- |")
    for p in precisions {
        let r = try run(p)
        var cosines: [Float] = []
        var same = 0
        for (a, b) in zip(reference.images, r.images) {
            guard let a, let b else { continue }
            cosines.append(dot(a, b))
            if top1(a, reference.texts) == top1(b, r.texts) { same += 1 }
        }
        cosines.sort()
        guard !cosines.isEmpty else { print("| \(r.used) | 0 | - | - | - | - |"); continue }
        let mean = cosines.reduce(0, +) / Float(cosines.count)
        let p1 = cosines[min(cosines.count - 1, cosines.count / 100)]
        print(String(format: "| %@ | %d | %.6f | %.6f | %.6f | %d of %d (%.1f%%) |", r.used, cosines.count,
                     cosines[0], p1, mean, same, cosines.count, 100 * Double(same) / Double(cosines.count)))
    }
}
