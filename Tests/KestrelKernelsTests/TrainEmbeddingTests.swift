import KestrelKernels
import XCTest

/// Patch embedding (image sides not multiples of the patch), token embedding with repeated ids,
/// and the position add: fast vs naive, finite differences, accumulation.
final class TrainEmbeddingTests: XCTestCase {
    let batch = 2, channels = 3, height = 11, imageWidth = 10, patch = 3, embed = 7
    var patches: Int { (height / patch) * (imageWidth / patch) }

    func patchForward(_ images: [Float], _ w: [Float], fast: Bool) -> [Float] {
        var out = [Float](repeating: .nan, count: batch * patches * embed)
        if fast {
            TrainOps.patchEmbedForward(out: &out, images: images, weight: w, batch: batch, channels: channels, height: height,
                                       width: imageWidth, patch: patch, embedWidth: embed)
        } else {
            NaiveTrainOps.patchEmbedForward(out: &out, images: images, weight: w, batch: batch, channels: channels, height: height,
                                            width: imageWidth, patch: patch, embedWidth: embed)
        }
        return out
    }

    func patchBackward(_ images: [Float], dOut: [Float], fast: Bool, times: Int = 1) -> [Float] {
        var dw = [Float](repeating: 0, count: embed * channels * patch * patch)
        for _ in 0..<times {
            if fast {
                TrainOps.patchEmbedBackward(dWeight: &dw, dOut: dOut, images: images, batch: batch, channels: channels, height: height,
                                            width: imageWidth, patch: patch, embedWidth: embed)
            } else {
                NaiveTrainOps.patchEmbedBackward(dWeight: &dw, dOut: dOut, images: images, batch: batch, channels: channels, height: height,
                                                 width: imageWidth, patch: patch, embedWidth: embed)
            }
        }
        return dw
    }

    var images: [Float] { trainRandom(batch * channels * height * imageWidth, seed: 61) }
    var weight: [Float] { trainRandom(embed * channels * patch * patch, seed: 62, scale: 0.3) }

    func testPatchEmbedForwardAndBackwardMatchNaive() {
        assertAllClose(patchForward(images, weight, fast: true), patchForward(images, weight, fast: false),
                       atol: 1e-5, rtol: 1e-5, "patch forward")
        let dOut = trainRandom(batch * patches * embed, seed: 63)
        assertAllClose(patchBackward(images, dOut: dOut, fast: true), patchBackward(images, dOut: dOut, fast: false),
                       atol: 1e-5, rtol: 1e-5, "patch backward")
    }

    func testPatchEmbedBackwardMatchesFiniteDifferencesAndAccumulates() {
        let r = trainRandom(batch * patches * embed, seed: 64)
        let g = patchBackward(images, dOut: r, fast: true)
        let imgs = images
        checkFiniteDifferences("patchEmbed", inputs: [weight], analytic: [g], r: r) { v in
            self.patchForward(imgs, v[0], fast: false)
        }
        assertAllClose(patchBackward(images, dOut: r, fast: true, times: 2), g.map { 2 * $0 }, atol: 1e-6, rtol: 1e-6, "twice")
    }

    /// One chunk boundary of the im2col (batch larger than a chunk holds).
    func testPatchEmbedManyImagesMatchesNaive() {
        let b = 5, c = 3, s = 64, p = 16, e = 9
        let imgs = trainRandom(b * c * s * s, seed: 65), w = trainRandom(e * c * p * p, seed: 66, scale: 0.1)
        let n = b * (s / p) * (s / p) * e
        var fo = [Float](repeating: 0, count: n), no = fo
        TrainOps.patchEmbedForward(out: &fo, images: imgs, weight: w, batch: b, channels: c, height: s, width: s, patch: p, embedWidth: e)
        NaiveTrainOps.patchEmbedForward(out: &no, images: imgs, weight: w, batch: b, channels: c, height: s, width: s, patch: p, embedWidth: e)
        assertAllClose(fo, no, atol: 1e-4, rtol: 1e-4, "forward")
        let dOut = trainRandom(n, seed: 67)
        var fd = [Float](repeating: 0, count: e * c * p * p), nd = fd
        TrainOps.patchEmbedBackward(dWeight: &fd, dOut: dOut, images: imgs, batch: b, channels: c, height: s, width: s, patch: p, embedWidth: e)
        NaiveTrainOps.patchEmbedBackward(dWeight: &nd, dOut: dOut, images: imgs, batch: b, channels: c, height: s, width: s, patch: p, embedWidth: e)
        assertAllClose(fd, nd, atol: 1e-4, rtol: 1e-4, "backward")
    }

    func testEmbeddingLookupAndRepeatedIdsAccumulate() {
        let width = 5, vocab = 4
        let table = trainRandom(vocab * width, seed: 68)
        let ids = [2, 0, 2, 3, 2]
        var out = [Float](repeating: 0, count: ids.count * width)
        TrainOps.embeddingForward(out: &out, table: table, ids: ids, width: width)
        for (n, id) in ids.enumerated() { XCTAssertEqual(Array(out[(n * width)..<((n + 1) * width)]), Array(table[(id * width)..<((id + 1) * width)])) }
        let dOut = trainRandom(ids.count * width, seed: 69)
        var fd = [Float](repeating: 0, count: vocab * width), nd = fd
        TrainOps.embeddingBackward(dTable: &fd, dOut: dOut, ids: ids, width: width)
        NaiveTrainOps.embeddingBackward(dTable: &nd, dOut: dOut, ids: ids, width: width)
        assertAllClose(fd, nd, atol: 0, rtol: 1e-6, "embedding backward")
        for j in 0..<width {
            XCTAssertEqual(fd[2 * width + j], dOut[0 * width + j] + dOut[2 * width + j] + dOut[4 * width + j], accuracy: 1e-6)
            XCTAssertEqual(fd[1 * width + j], 0)
        }
        checkFiniteDifferences("embedding", inputs: [table], analytic: [fd], r: dOut) { v in
            var o = [Float](repeating: 0, count: ids.count * width)
            NaiveTrainOps.embeddingForward(out: &o, table: v[0], ids: ids, width: width)
            return o
        }
    }

    func testPositionAddForwardAndBackward() {
        let b = 3, t = 7, w = 13
        let x0 = trainRandom(b * t * w, seed: 70), pos = trainRandom(t * w, seed: 71)
        var fx = x0, nx = x0
        TrainOps.positionAddForward(x: &fx, position: pos, batch: b, tokens: t, width: w)
        NaiveTrainOps.positionAddForward(x: &nx, position: pos, batch: b, tokens: t, width: w)
        assertAllClose(fx, nx, atol: 0, rtol: 0, "position add")
        let r = trainRandom(b * t * w, seed: 72)
        var fd = [Float](repeating: 0, count: t * w), nd = fd
        TrainOps.positionAddBackward(dPosition: &fd, dx: r, batch: b, tokens: t, width: w)
        NaiveTrainOps.positionAddBackward(dPosition: &nd, dx: r, batch: b, tokens: t, width: w)
        assertAllClose(fd, nd, atol: 1e-6, rtol: 1e-6, "position backward")
        checkFiniteDifferences("positionAdd", inputs: [pos], analytic: [fd], r: r) { v in
            var x = x0
            NaiveTrainOps.positionAddForward(x: &x, position: v[0], batch: b, tokens: t, width: w)
            return x
        }
        TrainOps.positionAddBackward(dPosition: &fd, dx: r, batch: b, tokens: t, width: w)
        assertAllClose(fd, nd.map { 2 * $0 }, atol: 1e-6, rtol: 1e-6, "position twice")
    }
}
