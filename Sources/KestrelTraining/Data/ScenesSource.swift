import Foundation
import KestrelModels

/// Procedurally rendered scenes drawn by Kestrel (licence CC0-1.0): 224×224 RGB, shapes in
/// colours, sizes, counts, textures, backgrounds and left/right/above/below relations, with
/// captions from templates and exact boxes. Four shape-colour combinations are held out: no
/// training scene contains them in any object; the "heldout" split shows them alone (shape and
/// colour zero-shot CSVs) and in multi-object scenes (caption retrieval CSV).
public enum ScenesSource {
    public static let licence = "CC0-1.0"
    public static let size = 224
    /// (shape, colour) pairs never drawn in training.
    public static let heldOutCombinations: [(SceneShape, String)] = [
        (.triangle, "green"), (.circle, "blue"), (.square, "red"), (.star, "yellow"),
    ]
    public static func isHeldOut(_ shape: SceneShape, _ colour: String) -> Bool {
        heldOutCombinations.contains { $0.0 == shape && $0.1 == colour }
    }
    /// Held-out scenes for `train` training scenes (30,000 -> 2,000).
    /// Whether `caption` names a held-out combination: its colour followed by its shape (singular
    /// or plural), up to two words apart ("a large blue circle", "blue dotted circles").
    public static func namesHeldOutCombination(_ caption: String) -> Bool {
        let words = caption.lowercased().split(whereSeparator: { !$0.isLetter }).map(String.init)
        for (shape, colour) in heldOutCombinations {
            for (i, w) in words.enumerated() where w == colour {
                for j in (i + 1)..<min(words.count, i + 4) where words[j] == shape.rawValue || words[j] == shape.plural { return true }
            }
        }
        return false
    }

    public static func heldOutCount(train: Int) -> Int { max(8, train / 15) }

    /// Object radii in pixels of the 224-pixel picture. The smallest object is about two 32-pixel
    /// patches across (a patch-32 encoder names a shape of radius 18-32 right about 0.72 of the
    /// time even on pairs seen in training: Notebooks/experiments/shape-captions).
    public static let singleSmallRadius: ClosedRange<Double> = 30...44, singleLargeRadius: ClosedRange<Double> = 55...85
    public static let countSmallRadius: ClosedRange<Double> = 22...28, countLargeRadius: ClosedRange<Double> = 34...44
    public static let relationRadius: ClosedRange<Double> = 22...32

    /// The default ensemble without the templates that state a size ("a photo of the small {}."),
    /// which would be false of half the scenes; the size goes in the caption's own words instead.
    static let sizeFreeTemplates = PromptTemplates.defaultEnsemble.filter { !$0.contains("small") && !$0.contains("large") }

    /// A single-object scene's captions, factorised: half name the shape alone, so that with
    /// soft-label targets (identical captions are positives) every colour's triangles are
    /// positives of each other and the shape is learnt apart from the colour; the held-out pairs
    /// (a green triangle) are then made of parts seen in training. The rest name colour and shape,
    /// or the colour alone ("a red shape", "a photo of a red.").
    static func singleCaptions(shape s: String, colour c: String, size: String, texture: SceneTexture,
                               background bg: String, _ rng: inout TrainingRNG) -> [String] {
        let a = DataText.article(s), name = "\(c) \(s)", an = DataText.article(name)
        let shapeTemplates = pickTwo(sizeFreeTemplates, &rng)
        var caps = ["\(a) \(s)", "a photo of \(a) \(s)", "a \(size) \(s)", "\(a) \(s) on a \(bg) background",
                    PromptTemplates.fill(shapeTemplates.0, with: s), PromptTemplates.fill(shapeTemplates.1, with: s),
                    "\(an) \(name)", "a photo of \(an) \(name)", "a \(size) \(name) on a \(bg) background",
                    PromptTemplates.fill(pick(sizeFreeTemplates, &rng), with: name),
                    // The colour alone, in the prompts zero-shot colour classification fills ("a photo of a green.").
                    "\(DataText.article(c)) \(c) shape", PromptTemplates.fill(pick(sizeFreeTemplates, &rng), with: c)]
        if texture != .solid { caps += ["a \(texture.rawValue) \(s)", "a \(texture.rawValue) \(name)"] }
        return caps
    }

    static let numberWords = ["a", "two", "three"]
    static let backgroundWords: [SceneBackground: String] = [.white: "white", .gray: "gray", .gradient: "gradient", .noisy: "noisy"]

    /// One group of identical objects (same shape, colour, texture, size word).
    struct Group { var shape: SceneShape; var colour: SceneColour; var texture: SceneTexture; var count: Int; var large: Bool
        var phrase: String {
            let t = texture == .solid ? "" : texture.rawValue + " "
            return count == 1 ? "\(DataText.article(t + colour.name)) \(t)\(colour.name) \(shape.rawValue)"
                              : "\(numberWords[count - 1]) \(t)\(colour.name) \(shape.plural)"
        }
        /// The shape alone, without colour or texture ("a triangle", "two stars").
        var shapePhrase: String { count == 1 ? "\(DataText.article(shape.rawValue)) \(shape.rawValue)" : "\(numberWords[count - 1]) \(shape.plural)" }
        var sizeWord: String { large ? "large" : "small" }
        var sizedPhrase: String {
            count == 1 ? "a \(sizeWord) \(colour.name) \(shape.rawValue)" : "\(numberWords[count - 1]) \(sizeWord) \(colour.name) \(shape.plural)"
        }
    }

    /// A generated scene: its objects, background, captions, label and attributes.
    public struct Scene: Sendable {
        public var objects: [SceneObject]
        public var background: SceneBackground
        public var captions: [String]
        public var label: String
        public var attributes: [String: String]
        /// "single" (one object) or "multi".
        public var kind: String
    }

    static func pick<T>(_ a: [T], _ rng: inout TrainingRNG) -> T { a[Int(rng.next() % UInt64(a.count))] }
    /// Two different elements of `a` (at least two long).
    static func pickTwo<T>(_ a: [T], _ rng: inout TrainingRNG) -> (T, T) {
        let i = Int(rng.next() % UInt64(a.count)), j = (i + 1 + Int(rng.next() % UInt64(a.count - 1))) % a.count
        return (a[i], a[j])
    }

    static func randomCombo(_ rng: inout TrainingRNG, heldOut: Bool) -> (SceneShape, SceneColour) {
        if heldOut {
            let (s, c) = pick(heldOutCombinations, &rng)
            return (s, SceneColour.all.first { $0.name == c }!)
        }
        while true {
            let s = pick(SceneShape.allCases, &rng), c = pick(SceneColour.all, &rng)
            if !isHeldOut(s, c.name) { return (s, c) }
        }
    }

    static func randomTexture(_ rng: inout TrainingRNG) -> SceneTexture {
        let u = rng.next() % 10
        return u < 6 ? .solid : (u < 8 ? .striped : .dotted)
    }

    /// Places `g.count` objects of radius range inside `region` (x0, y0, x1, y1) without overlapping `placed`.
    static func place(_ g: Group, in region: (Double, Double, Double, Double), radius: ClosedRange<Double>,
                      avoiding placed: inout [SceneObject], _ rng: inout TrainingRNG) {
        var r = radius.lowerBound + Double(rng.nextUnitFloat()) * (radius.upperBound - radius.lowerBound)
        for _ in 0..<g.count {
            var done = false
            for attempt in 0..<200 {
                if attempt > 0 && attempt % 50 == 0 { r *= 0.85 }
                let m = r + 3
                guard region.2 - region.0 > 2 * m, region.3 - region.1 > 2 * m else { r *= 0.85; continue }
                let cx = region.0 + m + Double(rng.nextUnitFloat()) * (region.2 - region.0 - 2 * m)
                let cy = region.1 + m + Double(rng.nextUnitFloat()) * (region.3 - region.1 - 2 * m)
                let o = SceneObject(shape: g.shape, colour: g.colour, texture: g.texture, cx: cx, cy: cy, r: r)
                let b = o.box
                let clear = placed.allSatisfy { p in
                    let q = p.box
                    return b[2] + 4 < q[0] || q[2] + 4 < b[0] || b[3] + 4 < q[1] || q[3] + 4 < b[1]
                }
                if clear { placed.append(o); done = true; break }
            }
            if !done {  // a crowded region: a small object at the region's centre line, no overlap check needed in practice
                let rr = 8.0
                placed.append(SceneObject(shape: g.shape, colour: g.colour, texture: g.texture,
                                          cx: region.0 + rr + 2 + Double(placed.count % 5) * (2 * rr + 6), cy: region.1 + rr + 2, r: rr))
            }
        }
    }

    /// Scene `index` of a split ("train" or "heldout"). Deterministic in (seed, split, index).
    public static func generate(index: Int, heldOut: Bool, seed: UInt64) -> Scene {
        var rng = TrainingRNG(seed: seed ^ (heldOut ? 0x5EED_0000_0000 : 0) ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15) ^ 0x5CE4E)
        let background = pick(SceneBackground.allCases, &rng)
        let bgWord = backgroundWords[background]!
        let u = rng.next() % 10
        let single = heldOut ? index % 2 == 0 : u < 5
        var objects = [SceneObject]()
        let full = (0.0, 0.0, Double(size), Double(size))
        if single {
            let (s, c) = randomCombo(&rng, heldOut: heldOut)
            let large = rng.next() & 1 == 0
            let g = Group(shape: s, colour: c, texture: randomTexture(&rng), count: 1, large: large)
            place(g, in: full, radius: large ? singleLargeRadius : singleSmallRadius, avoiding: &objects, &rng)
            let name = "\(c.name) \(s.rawValue)", size = g.sizeWord
            let caps = singleCaptions(shape: s.rawValue, colour: c.name, size: size, texture: g.texture,
                                      background: bgWord, &rng)
            return Scene(objects: objects, background: background, captions: caps, label: name,
                         attributes: ["shape": s.rawValue, "colour": c.name, "size": size, "count": "1",
                                      "texture": g.texture.rawValue, "background": bgWord], kind: "single")
        }
        let counting = !heldOut ? u < 7 : rng.next() % 3 == 0
        if counting {
            let (s, c) = randomCombo(&rng, heldOut: heldOut)
            let n = 2 + Int(rng.next() % 2)
            let large = rng.next() & 1 == 0
            let g = Group(shape: s, colour: c, texture: randomTexture(&rng), count: n, large: large)
            place(g, in: full, radius: large ? countLargeRadius : countSmallRadius, avoiding: &objects, &rng)
            let caption = g.phrase
            return Scene(objects: objects, background: background,
                         captions: [caption, g.sizedPhrase, "a photo of \(caption)", "\(g.sizedPhrase) on a \(bgWord) background",
                                    "\(numberWords[n - 1]) \(s.plural)", "\(numberWords[n - 1]) \(c.name) shapes"],
                         label: caption, attributes: ["shape": s.rawValue, "colour": c.name, "count": "\(n)",
                                                      "size": g.sizeWord, "background": bgWord], kind: "multi")
        }
        // Two groups in a relation; held-out scenes put a held-out combination in one group.
        let (s1, c1) = randomCombo(&rng, heldOut: heldOut)
        var (s2, c2) = randomCombo(&rng, heldOut: false)
        while s2 == s1 && c2 == c1 { (s2, c2) = randomCombo(&rng, heldOut: false) }
        var a = Group(shape: s1, colour: c1, texture: randomTexture(&rng), count: 1 + Int(rng.next() % 2), large: false)
        var b = Group(shape: s2, colour: c2, texture: randomTexture(&rng), count: 1, large: false)
        if heldOut && rng.next() & 1 == 0 { swap(&a, &b) }
        let relations = ["left of", "right of", "above", "below"]
        let rel = pick(relations, &rng)
        let half = Double(size) / 2
        let (ra, rb): ((Double, Double, Double, Double), (Double, Double, Double, Double))
        switch rel {
        case "left of": ra = (0, 0, half - 2, Double(size)); rb = (half + 2, 0, Double(size), Double(size))
        case "right of": ra = (half + 2, 0, Double(size), Double(size)); rb = (0, 0, half - 2, Double(size))
        case "above": ra = (0, 0, Double(size), half - 2); rb = (0, half + 2, Double(size), Double(size))
        default: ra = (0, half + 2, Double(size), Double(size)); rb = (0, 0, Double(size), half - 2)
        }
        place(a, in: ra, radius: relationRadius, avoiding: &objects, &rng)
        place(b, in: rb, radius: relationRadius, avoiding: &objects, &rng)
        let inverse = ["left of": "right of", "right of": "left of", "above": "below", "below": "above"][rel]!
        let caption = "\(a.phrase) \(rel) \(b.phrase)"
        return Scene(objects: objects, background: background,
                     captions: [caption, "\(b.phrase) \(inverse) \(a.phrase)", "a photo of \(caption)",
                                "\(a.phrase) and \(b.phrase)", "\(caption) on a \(bgWord) background",
                                "\(a.shapePhrase) \(rel) \(b.shapePhrase)"],
                     label: caption, attributes: ["relation": rel, "count": "\(a.count + b.count)", "background": bgWord], kind: "multi")
    }

    /// Renders a scene to 8-bit RGB.
    public static func render(_ scene: Scene, seed: UInt64, index: Int) -> [UInt8] {
        var rng = TrainingRNG(seed: seed ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03) ^ 0xB6)
        var canvas = SceneCanvas(width: size, height: size, background: scene.background, rng: &rng)
        for o in scene.objects { canvas.draw(o) }
        return canvas.rgb8
    }

    public static func build(sink: ImageSink, seed: UInt64, train: Int, threads: Int, progress: @escaping @Sendable (String) -> Void) throws -> SourceOutput {
        let held = heldOutCount(train: train)
        var output = SourceOutput()
        for (split, n) in [("train", train), ("heldout", held)] {
            try sink.makeFolder("scenes/\(split)")
            progress("scenes: rendering \(n) \(split) scenes")
            let entries: [(ManifestEntry, String)] = try parallelMap(n, threads: threads) { i in
                let scene = generate(index: i, heldOut: split == "heldout", seed: seed)
                let px = render(scene, seed: seed ^ (split == "heldout" ? 1 : 0), index: i)
                let path = String(format: "scenes/%@/%06d.png", split, i)
                let sha = try sink.writePNG(path, pixels: px, width: size, height: size, channels: 3)
                let boxes = scene.objects.map { o in
                    ManifestBox(shape: o.shape.rawValue, colour: o.colour.name, box: o.box.map { ($0 * 100).rounded() / 100 })
                }
                return (ManifestEntry(path: path, captions: scene.captions, split: split, source: "scenes", licence: licence,
                                      label: scene.label, attributes: scene.attributes, boxes: boxes, sha256: sha), scene.kind)
            }
            output.entries += entries.map(\.0)
            if split == "heldout" {
                let singles = entries.filter { $0.1 == "single" }.map(\.0)
                output.evalFiles["scenes-heldout-shape.csv"] = (["path", "label"], singles.map { [$0.path, $0.attributes?["shape"] ?? ""] })
                output.evalFiles["scenes-heldout-colour.csv"] = (["path", "label"], singles.map { [$0.path, $0.attributes?["colour"] ?? ""] })
                var seen = Set<String>()
                var rows = [[String]]()
                for (e, kind) in entries where kind == "multi" {
                    let c = e.captions[0]
                    if seen.insert(c).inserted { rows.append([e.path, c]) }
                }
                output.evalFiles["scenes-heldout-captions.csv"] = (["path", "caption"], rows)
            }
        }
        return output
    }
}
