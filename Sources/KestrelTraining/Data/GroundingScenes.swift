import Foundation
import KestrelFiles

/// Rendered scenes for measuring grounding (`kestrel data grounding`, `kestrel eval grounding`):
/// 224×224 RGB pictures with 2-4 non-overlapping shapes, exact boxes, and one target named by a
/// query "a {colour} {shape}" ("a {texture} {colour} {shape}" with `textureInQuery`). Every other
/// object is a distractor of the target's shape in another colour or of the target's colour in
/// another shape, so neither the colour nor the shape alone finds the target; the target's
/// shape-colour pair is unique in the scene. Radii 16-40 px (ScenesSource's multi-object scenes
/// draw 22-44), boxes at least 4 px apart and inside the picture.
///
/// Seed streams: scene (split, seed, index) draws from `TrainingRNG(seed: rngSeed(...))`, a
/// SplitMix64 hash of a grounding-only tag, the split, the seed and the index. `ScenesSource` (the
/// training scenes of `kestrel data build`) seeds its generator with `seed ^ index·φ ^ 0x5CE4E`
/// (xor, no hash), and the "train" and "heldout" splits here hash different tags, so the
/// held-out stream is disjoint from both training streams: no held-out scene is a training scene.
public enum GroundingScenes {
    public static let size = 224
    public static let format = "kestrel-grounding", version = 1
    public static let radius: ClosedRange<Double> = 16...40
    /// The default evaluation set: `count` held-out scenes from seed 0 (what `kestrel eval grounding` uses without --data).
    public static let defaultCount = 500, defaultSeed: UInt64 = 0

    public enum Split: String, Sendable, CaseIterable { case train, heldout }

    /// Which shape-colour pairs (`ScenesSource.heldOutCombinations`, never drawn in training) may appear.
    public enum Combinations: String, Sendable, CaseIterable {
        /// Any pair for the target and the distractors.
        case any
        /// The target is a held-out pair (distractors any).
        case heldout
        /// No object of the scene is a held-out pair.
        case excludeHeldout = "exclude-heldout"
    }

    /// What the distractors share with the target.
    public enum Distractors: String, Sendable, CaseIterable {
        /// Every distractor has the target's shape in another colour.
        case sameShape = "same-shape"
        /// Every distractor has the target's colour in another shape.
        case sameColour = "same-colour"
        /// At least one of each (3-4 objects).
        case mixed
    }

    public struct Options: Sendable, Equatable {
        public var combinations: Combinations
        /// Name the target's texture in the query when it is striped or dotted ("a striped red circle").
        public var textureInQuery: Bool
        public init(combinations: Combinations = .any, textureInQuery: Bool = false) {
            self.combinations = combinations; self.textureInQuery = textureInQuery
        }
    }

    /// One scene: its objects (the target among them), the query naming the target, and how it was made.
    public struct Scene: Sendable {
        public var split: Split
        public var seed: UInt64
        public var index: Int
        public var background: SceneBackground
        public var objects: [SceneObject]
        /// Index of the target in `objects`.
        public var target: Int
        public var query: String
        public var distractors: Distractors
        /// Whether the target's shape-colour pair is one of `ScenesSource.heldOutCombinations`.
        public var targetIsHeldOutCombination: Bool
        /// The target's exact extent [x0, y0, x1, y1] in pixels.
        public var targetBox: [Double] { objects[target].box }
    }

    /// The generator seed of scene (split, seed, index): SplitMix64 finalisers over a grounding tag.
    public static func rngSeed(split: Split, seed: UInt64, index: Int) -> UInt64 {
        let tag: UInt64 = split == .train ? 0x6752_6F75_6E64_5472 : 0x6752_6F75_6E64_4876   // "gRoundTr" / "gRoundHv"
        return mix(mix(mix(tag) ^ seed) ^ UInt64(bitPattern: Int64(index)))
    }

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func pick<T>(_ a: [T], _ rng: inout TrainingRNG) -> T { a[Int(rng.next() % UInt64(a.count))] }
    static func colour(_ name: String) -> SceneColour { SceneColour.all.first { $0.name == name } ?? SceneColour.all[0] }

    static func texture(_ rng: inout TrainingRNG) -> SceneTexture {
        let u = rng.next() % 10
        return u < 6 ? .solid : (u < 8 ? .striped : .dotted)
    }

    /// Scene `index` of `split` from `seed`. Deterministic in (split, seed, index, options).
    public static func generate(index: Int, split: Split = .heldout, seed: UInt64, options: Options = Options()) -> Scene {
        var rng = TrainingRNG(seed: rngSeed(split: split, seed: seed, index: index))
        let background = pick(SceneBackground.allCases, &rng)
        let count = 2 + Int(rng.next() % 3)
        let kinds: [Distractors] = count == 2 ? [.sameShape, .sameColour] : Distractors.allCases
        let kind = pick(kinds, &rng)
        let allowed: (SceneShape, String) -> Bool = { s, c in
            options.combinations != .excludeHeldout || !ScenesSource.isHeldOut(s, c)
        }
        // The target.
        var shape: SceneShape, colourName: String
        if options.combinations == .heldout {
            (shape, colourName) = pick(ScenesSource.heldOutCombinations, &rng)
        } else {
            repeat { shape = pick(SceneShape.allCases, &rng); colourName = pick(SceneColour.all, &rng).name } while !allowed(shape, colourName)
        }
        // Distractors: same shape in another colour, or same colour in another shape.
        var pairs: [(SceneShape, String)] = [(shape, colourName)]
        for k in 1..<count {
            let sameShape: Bool
            switch kind {
            case .sameShape: sameShape = true
            case .sameColour: sameShape = false
            case .mixed: sameShape = k == 1 ? true : (k == 2 ? false : rng.next() & 1 == 0)
            }
            var pair: (SceneShape, String)
            repeat {
                pair = sameShape ? (shape, pick(SceneColour.all, &rng).name) : (pick(SceneShape.allCases, &rng), colourName)
            } while pair.0 == shape && pair.1 == colourName || !allowed(pair.0, pair.1)
            pairs.append(pair)
        }
        // Where the target sits among the objects.
        let target = Int(rng.next() % UInt64(count))
        pairs.swapAt(0, target)
        var objects: [SceneObject] = []
        for (s, c) in pairs {
            let r = radius.lowerBound + Double(rng.nextUnitFloat()) * (radius.upperBound - radius.lowerBound)
            objects.append(place(SceneObject(shape: s, colour: colour(c), texture: texture(&rng), cx: 0, cy: 0, r: r),
                                 avoiding: objects, &rng))
        }
        let t = objects[target]
        let words = (options.textureInQuery && t.texture != .solid ? t.texture.rawValue + " " : "") + t.colour.name
        let query = "\(DataText.article(words)) \(words) \(t.shape.rawValue)"
        return Scene(split: split, seed: seed, index: index, background: background, objects: objects, target: target, query: query,
                     distractors: kind, targetIsHeldOutCombination: ScenesSource.isHeldOut(shape, colourName))
    }

    /// Whether two boxes [x0, y0, x1, y1] are at least `gap` pixels apart on some axis.
    public static func apart(_ a: [Double], _ b: [Double], gap: Double = 4) -> Bool {
        a[2] + gap < b[0] || b[2] + gap < a[0] || a[3] + gap < b[1] || b[3] + gap < a[1]
    }

    /// `o` moved to a random position where its box is inside the picture (2 px margin) and
    /// apart from every placed box; the radius shrinks by 10% after each 200 failed draws. Four
    /// radius-40 objects always fit (2×2 cells of 112 px), so the loop ends in practice within a
    /// few draws; a last resort puts the object in the first free quadrant at radius 16.
    static func place(_ o: SceneObject, avoiding placed: [SceneObject], _ rng: inout TrainingRNG) -> SceneObject {
        var o = o
        let side = Double(size)
        for attempt in 0..<1000 {
            if attempt > 0 && attempt % 200 == 0 { o.r = max(radius.lowerBound, o.r * 0.9) }
            let m = o.r + 2
            o.cx = m + Double(rng.nextUnitFloat()) * (side - 2 * m)
            o.cy = m + Double(rng.nextUnitFloat()) * (side - 2 * m)
            let b = o.box
            if placed.allSatisfy({ apart($0.box, b) }) { return o }
        }
        o.r = radius.lowerBound
        for (qx, qy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75), (0.5, 0.5)] {
            o.cx = qx * side; o.cy = qy * side
            if placed.allSatisfy({ apart($0.box, o.box) }) { return o }
        }
        return o
    }

    /// The scene drawn: 8-bit RGB, size × size × 3. The background's noise comes from its own stream.
    public static func render(_ scene: Scene) -> [UInt8] {
        var rng = TrainingRNG(seed: mix(rngSeed(split: scene.split, seed: scene.seed, index: scene.index) ^ 0x7265_6E64_6572))   // "render"
        var canvas = SceneCanvas(width: size, height: size, background: scene.background, rng: &rng)
        for o in scene.objects { canvas.draw(o) }
        return canvas.rgb8
    }

    /// The scene's line of `grounding.jsonl` (docs/data.md, "Grounding scenes"), keys in a fixed
    /// order, boxes in pixels rounded to 0.001, `path` relative to the file's folder.
    public static func jsonLine(_ scene: Scene, path: String) -> String {
        func number(_ x: Double) -> String { "\((x * 1000).rounded() / 1000)" }
        func box(_ b: [Double]) -> String { "[" + b.map(number).joined(separator: ", ") + "]" }
        func quoted(_ s: String) -> String { var out = ""; JSONText.appendQuoted(s, to: &out); return out }
        let objects = scene.objects.map { o in
            "{\"shape\": \(quoted(o.shape.rawValue)), \"colour\": \(quoted(o.colour.name)), \"texture\": \(quoted(o.texture.rawValue)), \"box\": \(box(o.box))}"
        }
        return "{\"format\": \(quoted(format)), \"version\": \(version), \"split\": \(quoted(scene.split.rawValue)), "
            + "\"seed\": \(scene.seed), \"index\": \(scene.index), \"path\": \(quoted(path)), \"width\": \(size), \"height\": \(size), "
            + "\"query\": \(quoted(scene.query)), \"target\": \(scene.target), \"box\": \(box(scene.targetBox)), "
            + "\"distractors\": \(quoted(scene.distractors.rawValue)), \"held_out_combination\": \(scene.targetIsHeldOutCombination), "
            + "\"background\": \(quoted(scene.background.rawValue)), \"objects\": [\(objects.joined(separator: ", "))]}"
    }

    /// Writes `count` scenes into `folder` (made if missing; it must not already hold a
    /// grounding.jsonl): `images/NNNNNN.png` and `grounding.jsonl`, one line per scene in index
    /// order. Returns the number written. Throws `DataBuildError.writeFailed` naming the file, and
    /// `DataBuildError.outputInUse` when the folder already holds a grounding.jsonl or pictures.
    /// What it made is removed when it fails or is interrupted (Ctrl-C, SIGTERM): the folder when
    /// it was new, else its `images` folder when that was new.
    @discardableResult
    public static func write(to folder: URL, count: Int, split: Split = .heldout, seed: UInt64, options: Options = Options(),
                             threads: Int = 2, progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> Int {
        let list = folder.appendingPathComponent("grounding.jsonl")
        if FileManager.default.fileExists(atPath: list.path) {
            throw DataBuildError.outputInUse(path: list.path, detail: "already exists; choose another --out folder")
        }
        let images = folder.appendingPathComponent("images")
        let fm = FileManager.default
        // Pictures of an earlier run that did not finish (killed) would sit beside the new ones,
        // unlisted: refuse rather than mix them.
        if let left = try? fm.contentsOfDirectory(atPath: images.path), !left.isEmpty {
            throw DataBuildError.outputInUse(path: images.path, detail: "already holds \(left.count) file\(left.count == 1 ? "" : "s") (an earlier run that did not finish?); remove it or choose another --out folder")
        }
        let made = !fm.fileExists(atPath: folder.path) ? folder : !fm.fileExists(atPath: images.path) ? images : nil
        let cleanup = made.map(InterruptCleanup.register)
        do {
            let sink = ImageSink(root: folder)
            try sink.makeFolder("images")
            let done = Counter()
            let lines: [String] = try parallelMap(count, threads: threads) { i in
                let scene = generate(index: i, split: split, seed: seed, options: options)
                let path = String(format: "images/%06d.png", i)
                _ = try sink.writePNG(path, pixels: render(scene), width: size, height: size, channels: 3)
                progress?(done.increment(), count)
                return jsonLine(scene, path: path)
            }
            try sink.write(Array((lines.joined(separator: "\n") + "\n").utf8), to: "grounding.jsonl")
        } catch {
            if let cleanup { InterruptCleanup.release(cleanup, removing: true) }
            throw error
        }
        if let cleanup { InterruptCleanup.release(cleanup, removing: false) }
        return count
    }

    final class Counter: @unchecked Sendable {
        let lock = NSLock(); var value = 0
        func increment() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
    }
}
