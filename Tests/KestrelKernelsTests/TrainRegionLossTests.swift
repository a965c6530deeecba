import KestrelKernels
import XCTest

/// `TrainOps.regionLoss`: its value from the definition written out directly, and its backward
/// against central finite differences.
final class TrainRegionLossTests: XCTestCase {
    let (b, p, q, e) = (3, 5, 3, 4)   // image 2 has no target
    let targets = [RegionLossTarget(image: 0, phrase: 1, patches: [1, 2]), RegionLossTarget(image: 1, phrase: 0, patches: [4]),
                   RegionLossTarget(image: 1, phrase: 2, patches: [0, 3])]

    func loss(_ patches: [Float], _ phrases: [Float], dP: UnsafeMutablePointer<Float>? = nil, dU: UnsafeMutablePointer<Float>? = nil) -> Float {
        patches.withUnsafeBufferPointer { pp in phrases.withUnsafeBufferPointer { uu in
            TrainOps.regionLoss(patches: pp.baseAddress!, phrases: uu.baseAddress!, scale: 3, batch: b, patchCount: p,
                                phraseCount: q, dim: e, targets: targets, dPatches: dP, dPhrases: dU)
        } }
    }

    func testValueFollowsTheDefinition() {
        let patches = trainRandom(b * p * e, seed: 1), phrases = trainRandom(q * e, seed: 2)
        func s(_ j: Int, _ r: Int) -> Double { 3 * (0..<e).reduce(0.0) { $0 + Double(patches[j * e + $1]) * Double(phrases[r * e + $1]) } }
        func lse(_ xs: [Double]) -> Double { log(xs.map(exp).reduce(0, +)) }
        var pointing = 0.0, naming = 0.0, covered = 0
        for t in targets {
            let rows = (0..<p).map { t.image * p + $0 }
            pointing += lse(rows.map { s($0, t.phrase) }) - lse(t.patches.map { s(t.image * p + $0, t.phrase) })
            for j in t.patches {
                naming += lse((0..<q).map { s(t.image * p + j, $0) }) - s(t.image * p + j, t.phrase)
                covered += 1
            }
        }
        let expected = pointing / Double(targets.count) + naming / Double(covered)
        XCTAssertEqual(Double(loss(patches, phrases)), expected, accuracy: 1e-5)
        XCTAssertEqual(patches.withUnsafeBufferPointer { pp in phrases.withUnsafeBufferPointer { uu in
            TrainOps.regionLoss(patches: pp.baseAddress!, phrases: uu.baseAddress!, scale: 3, batch: b, patchCount: p,
                                phraseCount: q, dim: e, targets: [], dPatches: nil, dPhrases: nil) } }, 0)
    }

    func testBackwardMatchesFiniteDifferences() {
        let patches = trainRandom(b * p * e, seed: 3), phrases = trainRandom(q * e, seed: 4)
        var dP = [Float](repeating: 0, count: b * p * e), dU = [Float](repeating: 0, count: q * e)
        _ = dP.withUnsafeMutableBufferPointer { dp in dU.withUnsafeMutableBufferPointer { du in
            loss(patches, phrases, dP: dp.baseAddress!, dU: du.baseAddress!) } }
        let h: Float = 1e-2
        for (which, count) in [(0, b * p * e), (1, q * e)] {
            for k in 0..<count {
                var a = patches, c = phrases
                if which == 0 { a[k] += h } else { c[k] += h }
                let plus = Double(loss(a, c))
                if which == 0 { a[k] -= 2 * h } else { c[k] -= 2 * h }
                let minus = Double(loss(a, c))
                let numeric = (plus - minus) / Double(2 * h), analytic = Double(which == 0 ? dP[k] : dU[k])
                XCTAssertEqual(analytic, numeric, accuracy: 2e-3 + 1e-2 * abs(numeric), "\(which == 0 ? "dPatches" : "dPhrases")[\(k)]")
            }
        }
        // Patches of an image with no target get no gradient; the others do.
        XCTAssertTrue(dP[(2 * p * e)...].allSatisfy { $0 == 0 })
        XCTAssertTrue(dP[..<(2 * p * e)].contains { $0 != 0 })
    }
}
