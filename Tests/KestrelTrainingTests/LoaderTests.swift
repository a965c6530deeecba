import Foundation
import KestrelTestSupport
import XCTest
@testable import KestrelTraining

final class LoaderTests: XCTestCase {
    /// The same state gives the same batch whatever the worker count, in line or prefetched.
    func testBatchesAreAPureFunctionOfTheState() throws {
        let folder = try TrainerFixtures.makeDataFolder()
        let recipe = try TrainerFixtures.recipe(folder: folder)
        let one = try TrainerFixtures.loader(recipe, folder: folder, workers: 1)
        let two = try TrainerFixtures.loader(recipe, folder: folder, workers: 2)
        var s1 = one.initialState(), s2 = two.initialState()
        var inline = [TrainingBatch]()
        for _ in 0..<5 {
            let (b1, n1) = try one.batch(count: 8, after: s1)
            let (b2, n2) = try two.batch(count: 8, after: s2)
            XCTAssertEqual(b1.pixels, b2.pixels)
            XCTAssertEqual(b1.tokens, b2.tokens)
            XCTAssertEqual(b1.groups, b2.groups)
            XCTAssertEqual(n1, n2)
            inline.append(b1)
            (s1, s2) = (n1, n2)
        }
        // Replaying from a saved (encoded, decoded) state reproduces the rest.
        let fresh = try TrainerFixtures.loader(recipe, folder: folder)
        var state = fresh.initialState()
        (_, state) = try fresh.batch(count: 8, after: state)
        (_, state) = try fresh.batch(count: 8, after: state)
        state = try JSONDecoder().decode(DataLoader.State.self, from: JSONEncoder().encode(state))
        let prefetch = BatchPrefetcher(loader: fresh, batchSize: 8, from: state)
        for k in 2..<5 {
            let (b, _) = try prefetch.next()
            XCTAssertEqual(b.pixels, inline[k].pixels, "batch \(k)")
            XCTAssertEqual(b.tokens, inline[k].tokens)
        }
        prefetch.finish()
    }

    /// Every training entry is visited once per epoch; held-out entries never.
    func testEpochsVisitEveryTrainingEntryOnce() throws {
        let folder = try TrainerFixtures.makeDataFolder(count: 12)
        let recipe = try TrainerFixtures.recipe(folder: folder)
        let loader = try TrainerFixtures.loader(recipe, folder: folder)
        XCTAssertEqual(loader.trainCount, ["scenes": 12])
        var state = loader.initialState()
        var seen = [Int: Int]()
        let order = PermutationCache().get(seed: recipe.seed, source: 0, epoch: 0, count: 12)
        XCTAssertEqual(order.sorted(), Array(0..<12))
        XCTAssertNotEqual(order, Array(0..<12))
        XCTAssertNotEqual(order, PermutationCache().get(seed: recipe.seed, source: 0, epoch: 1, count: 12))
        for _ in 0..<3 {
            let (b, next) = try loader.batch(count: 4, after: state)
            for t in b.tokens { seen[t.count, default: 0] += 1 }
            state = next
        }
        XCTAssertEqual(state.sources[0].epoch, 1)
        XCTAssertEqual(state.sources[0].position, 0)
        XCTAssertEqual(state.samples, 12)
    }

    /// Pixels are normalised CLIP input; soft-label groups follow the manifest's groups; tokens
    /// start and end with CLIP's specials and fit the context.
    func testBatchContents() throws {
        let folder = try TrainerFixtures.makeDataFolder()
        let recipe = try TrainerFixtures.recipe(folder: folder)
        let loader = try TrainerFixtures.loader(recipe, folder: folder)
        let (b, _) = try loader.batch(count: 12, after: loader.initialState())
        XCTAssertEqual(b.pixels.count, 12 * 3 * 16 * 16)
        let lo = b.pixels.min()!, hi = b.pixels.max()!
        XCTAssertGreaterThanOrEqual(lo, (0 - 0.48145466) / 0.26130258 - 0.01)
        XCTAssertLessThanOrEqual(hi, (1 - 0.40821073) / 0.26130258 + 0.01)
        XCTAssertEqual(hi, (1 - 0.40821073) / 0.27577711, accuracy: 1e-3)  // white background, blue channel
        for t in b.tokens {
            XCTAssertEqual(t.first, 49406); XCTAssertEqual(t.last, 49407); XCTAssertLessThanOrEqual(t.count, 8)
        }
        let g = b.groups!
        XCTAssertLessThanOrEqual(Set(g).count, 6)  // six labels (colour x shape) in the folder
        // Hard targets: no groups, the same pictures and captions.
        var hard = recipe
        hard.targets = "hard"
        let plain = try TrainerFixtures.loader(hard, folder: folder)
        let (h, _) = try plain.batch(count: 12, after: plain.initialState())
        XCTAssertNil(h.groups)
        XCTAssertEqual(h.pixels, b.pixels)
        XCTAssertEqual(h.tokens, b.tokens)
        XCTAssertLessThan(Set(g).count, 12)  // six labels over twelve samples
    }

    func testRandomResizedCropFollowsTorchvisionBounds() {
        var rng = TrainingRNG(seed: 1)
        for _ in 0..<500 {
            let w = Int(rng.next() % 300) + 1, h = Int(rng.next() % 300) + 1
            let box = Augment.randomResizedCrop(width: w, height: h, scale: (0.08, 1), ratio: (0.75, 4.0 / 3), rng: &rng)
            XCTAssertTrue(box.w >= 1 && box.h >= 1 && box.j >= 0 && box.i >= 0 && box.j + box.w <= w && box.i + box.h <= h,
                          "\(box) in \(w)x\(h)")
        }
        // A 1 x 100 strip never fits the ratio: the fallback centre crop (torchvision's rule).
        let strip = Augment.randomResizedCrop(width: 100, height: 1, scale: (0.08, 1), ratio: (0.75, 4.0 / 3), rng: &rng)
        XCTAssertEqual(strip, Augment.Box(i: 0, j: 49, h: 1, w: 1))
        XCTAssertTrue(Augment.mentionsSide("A cat on the Left"))
        XCTAssertTrue(Augment.mentionsSide("right-hand circle"))
        XCTAssertFalse(Augment.mentionsSide("a bright circle"))
    }

    /// Resizing a flat picture keeps it flat; a full-picture box at the same size is the identity;
    /// the mirror reverses columns.
    func testCropResizeNormalise() {
        let w = 5, h = 4
        var rgb = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h { for x in 0..<w { for c in 0..<3 { rgb[(y * w + x) * 3 + c] = UInt8(10 * x + 50 * c + y) } } }
        // Identity: a square picture at its own size.
        let sq = 4
        var square = [UInt8](repeating: 0, count: sq * sq * 3)
        for i in square.indices { square[i] = UInt8(i % 251) }
        var o1 = [Float](repeating: 0, count: 3 * sq * sq), o2 = o1
        square.withUnsafeBufferPointer { p in
            Augment.cropResizeNormalise(p, width: sq, height: sq, box: .init(i: 0, j: 0, h: sq, w: sq), size: sq, flip: false,
                                        mean: [0, 0, 0], std: [1, 1, 1], out: &o1)
            Augment.cropResizeNormalise(p, width: sq, height: sq, box: .init(i: 0, j: 0, h: sq, w: sq), size: sq, flip: true,
                                        mean: [0, 0, 0], std: [1, 1, 1], out: &o2)
        }
        for c in 0..<3 { for y in 0..<sq { for x in 0..<sq {
            XCTAssertEqual(o1[c * sq * sq + y * sq + x], Float(square[(y * sq + x) * 3 + c]) / 255, accuracy: 1e-6)
            XCTAssertEqual(o2[c * sq * sq + y * sq + (sq - 1 - x)], o1[c * sq * sq + y * sq + x])
        } } }
        // Flat grey stays flat at any scale.
        let grey = [UInt8](repeating: 128, count: 37 * 23 * 3)
        var o3 = [Float](repeating: 0, count: 3 * 16 * 16)
        grey.withUnsafeBufferPointer { p in
            Augment.cropResizeNormalise(p, width: 37, height: 23, box: .init(i: 3, j: 5, h: 17, w: 30), size: 16, flip: false,
                                        mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], out: &o3)
        }
        for v in o3 { XCTAssertEqual(v, (128 / 255 - 0.5) / 0.5, accuracy: 1e-5) }
        let small = Augment.shrink(grey, width: 37, height: 23, shortSide: 8)
        XCTAssertEqual(small.height, 8); XCTAssertEqual(small.width, 13)
        XCTAssertTrue(small.pixels.allSatisfy { $0 == 128 })
    }

    func testBadManifestLineIsNamed() throws {
        let folder = try TrainerFixtures.makeDataFolder()
        let url = folder.appendingPathComponent("manifest.jsonl")
        let original = try String(contentsOf: url, encoding: .utf8)
        try (original + "{\"path\": 3}\n").write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try DataLoader.readManifest(url)) { e in
            XCTAssertTrue("\(e)".contains("line 15"), "\(e)")
        }
        try original.write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try DataLoader(folder: folder, weights: ["emoji": 1], seed: 1, tokenizer: TrainerFixtures.tokenizer,
                                            options: .init(imageSize: 16, contextLength: 8))) { e in
            XCTAssertTrue("\(e)".contains("emoji"), "\(e)")
        }
    }
}
