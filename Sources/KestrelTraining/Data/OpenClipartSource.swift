import Foundation
import KestrelFiles
import KestrelImage

/// openclipart (Debian `openclipart-png`, public domain dedication): ~8,000 clip art PNGs in
/// nested topic folders. Each is composited over white, scaled to fit 224×224 (area average when
/// shrinking) and padded white to a square. Captions come from the folder and file names; the
/// label is the top-level folder. 10% of files are held out (split "heldout", stable seeded hash
/// of the relative path) and listed in eval/openclipart-heldout-category.csv (path,label).
public enum OpenClipartSource {
    public static let package = "openclipart-png"
    public static let root = "/usr/share/openclipart/png"
    /// SPDX: Creative Commons Public Domain Dedication and Certification (see
    /// /usr/share/doc/openclipart-png/copyright).
    public static let licence = "CC-PDDC"
    public static let size = 224
    /// Pictures above this many pixels are skipped: 17 files of the package (0.2%) hold 3.5 of its
    /// 4.9 gigapixels (up to 21k × 30k) and would take most of the build's time to decode.
    public static let maxPixels = 20_000_000

    /// One clip art file: its path relative to the root (bytes), and the folder names above it.
    public struct Item: Sendable {
        public var relative: [UInt8]
        public var folders: [String]
        public var stem: String
    }

    /// Walks the tree (paths as bytes; unreadable folders are skipped with a warning), sorted.
    public static func list(rootPath: String = root, warn: (String) -> Void) throws -> [Item] {
        let top = FilePathBytes(rootPath)
        guard FileSystem.exists(top) else { throw DataBuildError.missingSource(package: package, path: rootPath) }
        var items = [Item]()
        func walk(_ dir: FilePathBytes, _ rel: [UInt8], _ folders: [String]) {
            let names: [[UInt8]]
            do { names = try FileSystem.listDirectory(dir) } catch { warn("openclipart: skipping \(dir): \(error)"); return }
            for name in names.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                let path = dir.appending(name)
                let childRel = rel.isEmpty ? name : rel + [0x2F] + name
                guard let st = try? FileSystem.status(path) else { warn("openclipart: skipping \(path): cannot stat"); continue }
                let text = String(decoding: name, as: UTF8.self)
                if st.kind == .directory {
                    walk(path, childRel, folders + [text])
                } else if st.kind == .regular, text.lowercased().hasSuffix(".png") {
                    items.append(Item(relative: childRel, folders: folders, stem: String(text.dropLast(4))))
                }
            }
        }
        walk(top, [], [])
        return items
    }

    static func words(_ s: String) -> [String] {
        s.lowercased().split(whereSeparator: { !($0.isLetter) }).map(String.init)
    }

    /// Words that end many names in many folders but describe the picture, never stripped.
    static let contentWords: Set<String> = [
        "red", "blue", "green", "yellow", "black", "white", "orange", "purple", "pink", "brown", "gray", "grey", "gold", "silver",
        "arrow", "cross", "down", "up", "left", "right", "flag", "icon", "mail", "man", "woman", "scissors", "shaded", "sign",
        "simple", "smoking", "tree", "star", "circle", "clock", "cloud", "house", "car", "cat", "dog", "bird", "fish", "map",
    ]

    /// Trailing name tokens that look like author names (the package's file names are
    /// "<title>_<author>_01", cut at ~24 characters): tokens that end a name in at least 8 files
    /// spread over at least 3 top-level folders, found in two rounds (the second after stripping
    /// the first round's tokens, for first names: "dan_gerhard"), plus "bw"; `contentWords` are kept.
    public static func authorTokens(_ items: [Item]) -> Set<String> {
        func round(_ known: Set<String>) -> Set<String> {
            var count = [String: Int]()
            var tops = [String: Set<String>]()
            for it in items {
                var w = words(it.stem).filter { $0.count > 1 }
                while w.count > 1, let last = w.last, isAuthor(last, known) { w.removeLast() }
                guard let last = w.last else { continue }
                count[last, default: 0] += 1
                tops[last, default: []].insert(it.folders.first ?? "")
            }
            var out = known
            for (t, c) in count where c >= 8 && (tops[t]?.count ?? 0) >= 3 && !contentWords.contains(t) { out.insert(t) }
            return out
        }
        return round(round(["bw", "bwh"]))
    }

    /// A token is an author's when it is one, or a cut-short one (a prefix of at least 4 letters).
    static func isAuthor(_ t: String, _ authors: Set<String>) -> Bool {
        if authors.contains(t) { return true }
        if t.count >= 4, !contentWords.contains(t) { return authors.contains { $0.count > t.count && $0.hasPrefix(t) } }
        return false
    }

    /// The title words of a file stem: digits, ids, underscores, dashes, single letters and
    /// trailing author tokens removed ("cone_soft_vanilla_01" -> "cone soft vanilla").
    public static func title(_ stem: String, authors: Set<String>) -> String {
        var w = words(stem).filter { $0.count > 1 }
        var dropped = 0
        while w.count > 1, dropped < 3, let last = w.last, isAuthor(last, authors) { w.removeLast(); dropped += 1 }
        return w.joined(separator: " ")
    }

    /// Captions for a title, its folders (top-level first) and the plain category.
    public static func captions(title: String, folders: [String]) -> [String] {
        let cleanFolders = folders.map { words($0).joined(separator: " ") }.filter { !$0.isEmpty }
        let top = cleanFolders.first ?? "clip art"
        let sub = cleanFolders.last ?? top
        guard !title.isEmpty else {
            return ["a clip art drawing of \(sub)", "\(sub), \(top)", "clip art of \(top)"]
        }
        let a = DataText.article(title)
        var caps = ["a clip art drawing of \(a) \(title)", "\(title), \(sub)", "\(a) \(title)", "clip art: \(title), \(top)"]
        if sub != top { caps.append("a drawing of \(a) \(title) (\(top), \(sub))") }
        return caps
    }

    /// Converts every PNG under `rootPath` (the package's folder by default) into a manifest entry:
    /// a 224-pixel white square, captions from the folder and file names, the top-level folder
    /// as the label, 10% held out by picture content (seeded).
    public static func build(sink: ImageSink, seed: UInt64, threads: Int, rootPath: String = root,
                             progress: @escaping @Sendable (String) -> Void) throws -> SourceOutput {
        let items = try list(rootPath: rootPath, warn: progress)
        guard !items.isEmpty else { throw DataBuildError.damaged(path: rootPath, detail: "no PNG files found") }
        let authors = authorTokens(items)
        let tops = Set(items.map { DataText.slug($0.folders.first ?? "misc") })
        for t in tops { try sink.makeFolder("openclipart/\(t)") }
        progress("openclipart: converting \(items.count) pictures")
        let results: [ManifestEntry?] = try parallelMap(items.count, threads: threads) { i in
            let it = items[i]
            let full = FilePathBytes(rootPath).appending(it.relative)
            let im: DecodedImage
            do {
                let bytes = try FileSystem.readFile(full, limit: 64 << 20)
                let header = try ImageDecoder().readHeader(bytes: bytes, name: full.description)
                guard header.width * header.height <= maxPixels else {
                    progress("note: openclipart: skipping \(full): \(header.width)x\(header.height) is above \(maxPixels / 1_000_000) megapixels (decoding it would take most of the build's time)")
                    return nil
                }
                im = try ImageDecoder().decode(bytes: bytes, name: full.description)
            } catch {
                progress("warning: openclipart: skipping \(full): \(error)")
                return nil
            }
            // Big pictures: an integer box reduction first (fused with the white composite), so the
            // area-average resize that follows shrinks by less than 2.
            let factor = max(1, max(im.width, im.height) / size)
            let reduced = ImageOps.overWhiteReduced(ImageOps.rgba(im), width: im.width, height: im.height, factor: factor)
            let square = ImageOps.fitOnWhiteSquare(reduced.pixels, width: reduced.width, height: reduced.height, size: size)
            let top = it.folders.first ?? "misc"
            let t = title(it.stem, authors: authors)
            let path = String(format: "openclipart/%@/%@-%04d.png", DataText.slug(top), DataText.slug(t.isEmpty ? "clip art" : t, maxLength: 40), i)
            let sha = try sink.writePNG(path, pixels: square, width: size, height: size, channels: 3)
            // Held out by picture, not by path: the package holds the same picture under several
            // paths (and folders), and every copy must fall on the same side.
            let held = DataText.isHeldOut(Array(sha.utf8), seed: seed)
            return ManifestEntry(path: path, captions: captions(title: t, folders: it.folders), split: held ? "heldout" : "train",
                                 source: "openclipart", licence: licence, label: words(top).joined(separator: " "), sha256: sha)
        }
        var output = SourceOutput()
        output.entries = results.compactMap { $0 }
        // The category list leaves out pictures filed under more than one top-level folder (no
        // single true category) and keeps one copy of each picture.
        var labelsOf = [String: Set<String>]()
        for e in output.entries { labelsOf[e.sha256 ?? e.path, default: []].insert(e.label ?? "") }
        var listed = Set<String>()
        output.evalFiles["openclipart-heldout-category.csv"] = (["path", "label"],
            output.entries.filter { e in
                let key = e.sha256 ?? e.path
                return e.split == "heldout" && labelsOf[key]?.count == 1 && listed.insert(key).inserted
            }.map { [$0.path, $0.label ?? ""] })
        return output
    }
}
