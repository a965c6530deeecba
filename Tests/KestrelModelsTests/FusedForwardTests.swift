import Foundation
import KestrelKernels
@testable import KestrelModels
import KestrelTestSupport
import XCTest

/// The towers on the GEMM seam (fused q|k|v, epilogues, pooled workspaces) against their naive
/// twin `NaiveCLIP` (the unfused Tensor-level forward), on the tiny fixture models in both layouts.
final class FusedForwardTests: XCTestCase {
    static let models = ["hf-tiny", "openclip-tiny"]

    /// Deterministic pixels in about -2...2 (normalised images' range).
    static func pixels(_ n: Int, _ s: Int, seed: UInt64) -> Tensor {
        var state = seed
        return Tensor(shape: [n, 3, s, s], data: (0..<(n * 3 * s * s)).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 4001) / 1000 - 2
        })
    }

    func assertClose(_ got: Tensor, _ want: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.shape, want.shape, what, file: file, line: line)
        let scale = max(1, want.data.map(abs).max() ?? 1)
        // fp32 with another summation order (fused bias and residual): rounding only.
        XCTAssertLessThanOrEqual(maxAbsDifference(got.data, want.data), 2e-5 * scale, what, file: file, line: line)
    }

    func testFusedForwardMatchesTheUnfusedTwinInBothLayouts() throws {
        for name in Self.models {
            let dir = Fixtures.url("models/\(name)")
            let model = try CLIPModel(directory: dir)
            let naive = try NaiveCLIP(directory: dir)
            let s = model.config.imageSize
            for batch in [1, 3] {
                let p = Self.pixels(batch, s, seed: UInt64(batch))
                assertClose(try model.encodeImages(p), naive.encodeImages(p), "\(name) images, batch \(batch)")
            }
            let ref = try ModelReference.load(Fixtures.url("models/\(name).reference.json"))
            let texts = ref.texts.map(\.ids)
            // One batch of different lengths (padded to the longest), then each alone.
            assertClose(try model.encodeText(texts), naive.encodeText(texts), "\(name) texts, one batch")
            for ids in texts { assertClose(try model.encodeText([ids]), naive.encodeText([ids]), "\(name) text \(ids)") }
        }
    }

    /// Workspaces grow and are reused: a small call after a big one (and the reverse) gives what a
    /// fresh model gives.
    func testWorkspaceReuseAcrossShapesChangesNothing() throws {
        let dir = Fixtures.url("models/openclip-tiny")
        let fresh = try CLIPModel(directory: dir), used = try CLIPModel(directory: dir)
        let s = fresh.config.imageSize
        let small = Self.pixels(1, s, seed: 7), big = Self.pixels(5, s, seed: 8)
        let want = try fresh.encodeImages(small)
        _ = try used.encodeImages(big)
        XCTAssertEqual(try used.encodeImages(small), want)
        XCTAssertEqual(try used.encodeImages(big), try fresh.encodeImages(big))
        let long = [49406] + [Int](repeating: 320, count: 30) + [49407], short = [49406, 320, 1125, 49407]
        let wantShort = try fresh.encodeText([short])
        _ = try used.encodeText([long, long, long])
        XCTAssertEqual(try used.encodeText([short]), wantShort)
    }

    /// One model called from several threads at once: each call gets its own workspace, and the
    /// results are those of the same calls made one after another.
    func testConcurrentForwardsGiveIdenticalResults() throws {
        for name in Self.models {
            let model = try CLIPModel(directory: Fixtures.url("models/\(name)"))
            let s = model.config.imageSize
            let ref = try ModelReference.load(Fixtures.url("models/\(name).reference.json"))
            let inputs = (0..<6).map { Self.pixels(1 + $0 % 3, s, seed: UInt64(100 + $0)) }
            let texts = (0..<6).map { i in Array(ref.texts.map(\.ids)[...(i % ref.texts.count)]) }
            let wantImages = try inputs.map { try model.encodeImages($0) }
            let wantTexts = try texts.map { try model.encodeText($0) }
            let results = ResultBox(count: inputs.count)
            DispatchQueue.concurrentPerform(iterations: 4 * inputs.count) { n in
                let i = n % inputs.count
                do {
                    let image = try model.encodeImages(inputs[i]), text = try model.encodeText(texts[i])
                    results.record(i, image == wantImages[i] && text == wantTexts[i])
                } catch { results.record(i, false) }
            }
            XCTAssertEqual(results.mismatches, 0, "\(name): concurrent forwards that differ from sequential ones")
            XCTAssertEqual(results.calls, 4 * inputs.count)
        }
    }

    /// A precision this build or processor cannot run falls back to fp32 and says so; one it can
    /// run is used as asked.
    func testPrecisionIsWhatIsUsedAndAFallbackIsExplained() throws {
        let dir = Fixtures.url("models/hf-tiny")
        let fp32 = try CLIPModel(directory: dir)
        XCTAssertEqual(fp32.precision, .fp32)
        XCTAssertNil(fp32.precisionNote)
        for asked in [Precision.bf16, .int8] {
            let model = try CLIPModel(directory: dir, precision: asked)
            XCTAssertEqual(model.requestedPrecision, asked)
            XCTAssertEqual(model.precision, GEMMBackends.choose(for: asked).precision)
            if model.precision != asked {
                XCTAssertEqual(model.precision, .fp32)
                let note = try XCTUnwrap(model.precisionNote, "a fallback must say why")
                XCTAssertTrue(note.contains(asked.rawValue), note)
            }
            XCTAssertFalse(model.gemmBackend.isEmpty)
            XCTAssertGreaterThan(cosine(try model.encodeImages(Self.pixels(1, model.config.imageSize, seed: 3)).data,
                                        try fp32.encodeImages(Self.pixels(1, model.config.imageSize, seed: 3)).data), 0.99)
        }
    }
}

/// Counts matching and mismatching results from concurrent calls.
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var mismatches = 0
    private(set) var calls = 0
    init(count: Int) {}
    func record(_ i: Int, _ same: Bool) { lock.withLock { calls += 1; if !same { mismatches += 1 } } }
}
