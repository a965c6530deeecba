import KestrelKernels
import KestrelTestSupport
import XCTest

final class EmbeddingTests: XCTestCase {
    func testPatchEmbedKnownValues() {
        // One 4x4 image, 2x2 patches, a kernel of ones on channel 0 only: each output is a patch sum.
        var images = Tensor(shape: [1, 3, 4, 4])
        for i in 0..<16 { images.data[i] = Float(i) }
        var w = Tensor(shape: [2, 3, 2, 2])
        for i in 0..<4 { w.data[i] = 1 }          // out 0: sum of channel 0
        w.data[12 + 4] = 1                          // out 1: channel 1, top-left (all zeros)
        let y = patchEmbed(images, weight: w, patchSize: 2)
        XCTAssertEqual(y.shape, [1, 4, 2])
        // Patches in row-major order: (0,0) (0,1) (1,0) (1,1).
        let expected: [Float] = [10, 0, 18, 0, 42, 0, 50, 0]  // 0+1+4+5, 2+3+6+7, 8+9+12+13, 10+11+14+15
        XCTAssertEqual(y.data, expected)
    }

    func testPatchEmbedMatchesNaive() {
        var rng = SeededRandom(seed: 40)
        // (batch, height, width, patch, channels out); 9x7 with P=3 drops trailing pixels like PyTorch.
        for (batch, h, w, p, c) in [(1, 1, 1, 1, 1), (2, 8, 8, 4, 7), (1, 9, 7, 3, 17), (3, 33, 33, 11, 3), (2, 64, 64, 8, 33)] {
            let images = randomTensor([batch, 3, h, w], &rng)
            let weight = randomTensor([c, 3, p, p], &rng)
            let y = patchEmbed(images, weight: weight, patchSize: p)
            XCTAssertEqual(y.shape, [batch, (h / p) * (w / p), c])
            assertClose(y.data, NaiveKernels.patchEmbed(images, weight: weight, patchSize: p).data, absolute: 1e-4,
                        "\(batch)x\(h)x\(w) P\(p) C\(c)")
        }
    }

    func testEmbeddingGather() {
        var rng = SeededRandom(seed: 41)
        let table = randomTensor([17, 33], &rng)
        let ids = [0, 16, 3, 3, 7]
        let y = embeddingGather(table, ids: ids)
        XCTAssertEqual(y.shape, [5, 33])
        XCTAssertEqual(y.data, NaiveKernels.embeddingGather(table, ids: ids).data)
        XCTAssertEqual(Array(y.data[33..<66]), Array(table.data[(16 * 33)..<(17 * 33)]))
        XCTAssertEqual(embeddingGather(table, ids: []).shape, [0, 33])
    }
}
