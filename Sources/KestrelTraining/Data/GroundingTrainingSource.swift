import Foundation
import KestrelModels

/// The "grounding" source of `kestrel data build`: training scenes from `GroundingScenes`' train
/// stream (2-4 objects, every distractor sharing the target's shape or its colour), none holding a
/// held-out shape-colour pair. Their boxes feed the region-phrase loss of the default model's
/// recipe (`recipes/default.json`, grounding weight 1.2): with a same-colour distractor beside the target, the
/// patches must tell shapes apart, which the other scenes rarely demand. Captions name the objects;
/// the held-out evaluation scenes (`kestrel data grounding`, split heldout) come from another stream.
public enum GroundingTrainingSource {
    public static let licence = "CC0-1.0"
    /// Scenes `kestrel data build` renders by default.
    public static let defaultCount = 12_000

    public static func build(sink: ImageSink, seed: UInt64, count: Int, threads: Int,
                             progress: @escaping @Sendable (String) -> Void) throws -> SourceOutput {
        try sink.makeFolder("grounding/train")
        progress("grounding: rendering \(count) train scenes")
        let options = GroundingScenes.Options(combinations: .excludeHeldout)
        let entries: [ManifestEntry] = try parallelMap(count, threads: threads) { i in
            let scene = GroundingScenes.generate(index: i, split: .train, seed: seed, options: options)
            let px = GroundingScenes.render(scene)
            let path = String(format: "grounding/train/%06d.png", i)
            let sha = try sink.writePNG(path, pixels: px, width: GroundingScenes.size, height: GroundingScenes.size, channels: 3)
            let phrases = scene.objects.map { "\(DataText.article($0.colour.name)) \($0.colour.name) \($0.shape.rawValue)" }
            let listed = phrases.count == 2 ? "\(phrases[0]) and \(phrases[1])"
                : phrases.dropLast().joined(separator: ", ") + " and " + phrases.last!
            let boxes = scene.objects.map { o in
                ManifestBox(shape: o.shape.rawValue, colour: o.colour.name, box: o.box.map { ($0 * 100).rounded() / 100 })
            }
            return ManifestEntry(path: path, captions: [listed, "a picture with \(scene.query)", "\(scene.query) among other shapes"],
                                 split: "train", source: "grounding", licence: licence, label: nil,
                                 attributes: ["query": scene.query, "distractors": scene.distractors.rawValue],
                                 boxes: boxes, sha256: sha)
        }
        var output = SourceOutput()
        output.entries = entries
        return output
    }
}
