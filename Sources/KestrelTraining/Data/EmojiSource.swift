import Foundation
import KestrelImage

/// Noto Color Emoji (Debian `fonts-noto-color-emoji`, OFL-1.1): each single-code-point emoji's
/// bitmap, composited over white and padded to a square, captioned from its Unicode name in
/// plain words ("DOG FACE" -> "dog face"). 10% held out by file (split "heldout"), listed in
/// eval/emoji-heldout-captions.csv (path,caption with the plain name).
public enum EmojiSource {
    public static let package = "fonts-noto-color-emoji"
    public static let fontPath = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
    public static let licence = "OFL-1.1"

    /// True for code points that are an emoji on their own: emoji presentation or an emoji above
    /// Latin-1, minus modifiers, regional indicator letters, variation selectors, joiners and tags.
    public static func isStandaloneEmoji(_ c: UInt32) -> Bool {
        guard let s = Unicode.Scalar(c) else { return false }
        let p = s.properties
        if c < 0xA9 || p.isEmojiModifier || p.isVariationSelector || p.isJoinControl { return false }
        if (0x1F1E6...0x1F1FF).contains(c) || (0xE0000...0xE007F).contains(c) || (0x1F3FB...0x1F3FF).contains(c) { return false }
        return (p.isEmojiPresentation || p.isEmoji) && p.name != nil
    }

    /// The plain name: lowercase Unicode name ("DOG FACE" -> "dog face").
    public static func plainName(_ c: UInt32) -> String? {
        guard let s = Unicode.Scalar(c), let n = s.properties.name else { return nil }
        return n.lowercased()
    }

    public static func captions(name: String) -> [String] {
        let a = DataText.article(name)
        return ["an emoji of \(a) \(name)", name, "\(a) \(name) icon", "\(a) \(name) emoji"]
    }

    /// (code point, plain name, PNG bytes) for every single-code-point emoji with a bitmap, in code point order.
    public static func load(path: String = fontPath) throws -> [(UInt32, String, [UInt8])] {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataBuildError.missingSource(package: package, path: path) }
        let font = try ColorBitmapFont(bytes: [UInt8](data), path: path)
        let cmap = try font.characterMap()
        let bitmaps = try font.bitmaps()
        var out = [(UInt32, String, [UInt8])]()
        for (c, g) in cmap.sorted(by: { $0.key < $1.key }) where isStandaloneEmoji(c) {
            guard let png = bitmaps[g], let name = plainName(c) else { continue }
            out.append((c, name, png))
        }
        return out
    }

    public static func build(sink: ImageSink, seed: UInt64, threads: Int, progress: @escaping @Sendable (String) -> Void) throws -> SourceOutput {
        let emoji = try load()
        try sink.makeFolder("emoji")
        progress("emoji: writing \(emoji.count) pictures")
        let results: [ManifestEntry?] = try parallelMap(emoji.count, threads: threads) { i in
            let (c, name, png) = emoji[i]
            let im: DecodedImage
            do { im = try ImageDecoder().decode(bytes: png, name: "U+\(String(c, radix: 16, uppercase: true))") } catch {
                progress("warning: emoji: skipping U+\(String(c, radix: 16, uppercase: true)): \(error)")
                return nil
            }
            let rgb = ImageOps.overWhite(ImageOps.rgba(im), count: im.width * im.height)
            let side = max(im.width, im.height)
            let square = ImageOps.fitOnWhiteSquare(rgb, width: im.width, height: im.height, size: side)
            let path = String(format: "emoji/u%05x-%@.png", c, DataText.slug(name, maxLength: 40))
            let sha = try sink.writePNG(path, pixels: square, width: side, height: side, channels: 3)
            let held = DataText.isHeldOut(Array(path.utf8), seed: seed)
            return ManifestEntry(path: path, captions: captions(name: name), split: held ? "heldout" : "train",
                                 source: "emoji", licence: licence, label: name, sha256: sha)
        }
        var output = SourceOutput()
        output.entries = results.compactMap { $0 }
        output.evalFiles["emoji-heldout-captions.csv"] = (["path", "caption"],
            output.entries.filter { $0.split == "heldout" }.map { [$0.path, $0.label ?? ""] })
        return output
    }
}
