import KestrelKernels
import KestrelTestSupport
import XCTest

/// LayerNorm, softmax, L2 normalisation and elementwise arithmetic.
final class RowwiseTests: XCTestCase {
    func testLayerNormHandValues() {
        // mean 2.5, biased variance 1.25.
        let x = Tensor(shape: [1, 4], data: [1, 2, 3, 4])
        let y = layerNorm(x, weight: Tensor(shape: [4], data: [1, 2, 1, 1]), bias: Tensor(shape: [4], data: [0, 0, 1, 0]), eps: 0)
        let s = Float(1.25).squareRoot()
        assertClose(y.data, [-1.5 / s, 2 * (-0.5 / s), 0.5 / s + 1, 1.5 / s], absolute: 1e-6)
        // A constant row normalises to the bias.
        let c = layerNorm(Tensor(shape: [2, 3], repeating: 7), weight: Tensor(shape: [3], repeating: 2),
                          bias: Tensor(shape: [3], data: [1, 2, 3]), eps: 1e-5)
        XCTAssertEqual(c.data, [1, 2, 3, 1, 2, 3])
    }

    func testLayerNormMatchesNaive() {
        var rng = SeededRandom(seed: 10)
        // 257 x 65 is big enough to split over cores.
        for shape in [[1, 1], [3, 7], [2, 7, 17], [33, 33], [1, 768], [257, 65]] {
            let x = randomTensor(shape, &rng, scale: 3)
            let w = randomTensor([shape.last!], &rng), b = randomTensor([shape.last!], &rng)
            let y = layerNorm(x, weight: w, bias: b, eps: 1e-5)
            XCTAssertEqual(y.shape, shape)
            assertClose(y.data, NaiveKernels.layerNorm(x, weight: w, bias: b, eps: 1e-5).data, absolute: 1e-5, "\(shape)")
        }
    }

    func testSoftmaxKnownValuesAndInfinity() {
        var x = Tensor(shape: [3, 3], data: [0, -.infinity, Float(log(3.0)),
                                             -.infinity, -.infinity, -.infinity,
                                             1000, 1000, -.infinity])
        softmax(&x)
        assertClose(x.data, [0.25, 0, 0.75, 0, 0, 0, 0.5, 0.5, 0], absolute: 1e-6)
    }

    func testSoftmaxMatchesNaive() {
        var rng = SeededRandom(seed: 11)
        for shape in [[1, 1], [7, 3], [2, 3, 17], [5, 33], [300, 33]] {
            var x = randomTensor(shape, &rng, scale: 20)
            // Mask a scattering of entries.
            for i in stride(from: 0, to: x.count, by: 5) { x.data[i] = -.infinity }
            var expected = x
            softmax(&x)
            NaiveKernels.softmax(&expected)
            assertNoNaN(x)
            assertClose(x.data, expected.data, absolute: 1e-6, "\(shape)")
        }
    }

    func testL2Normalize() {
        var x = Tensor(shape: [2, 2], data: [3, 4, 0, 0])
        l2Normalize(&x)
        XCTAssertEqual(x.data, [0.6, 0.8, 0, 0])
        var rng = SeededRandom(seed: 12)
        for shape in [[1, 1], [3, 7], [17, 33], [2, 512], [300, 65]] {
            var y = randomTensor(shape, &rng)
            var expected = y
            l2Normalize(&y)
            NaiveKernels.l2Normalize(&expected)
            assertClose(y.data, expected.data, absolute: 1e-6, "\(shape)")
        }
    }

    func testElementwiseMatchesNaive() {
        var rng = SeededRandom(seed: 13)
        for shape in [[1], [3, 7], [2, 17, 33], [300, 257]] {
            let x = randomTensor(shape, &rng), y = randomTensor(shape, &rng), bias = randomTensor([shape.last!], &rng)
            var fast = x, slow = x
            add(&fast, y); NaiveKernels.add(&slow, y)
            XCTAssertEqual(fast.data, slow.data, "add \(shape)")
            addBias(&fast, bias); NaiveKernels.addBias(&slow, bias)
            XCTAssertEqual(fast.data, slow.data, "addBias \(shape)")
            scale(&fast, by: 0.125); NaiveKernels.scale(&slow, by: 0.125)
            XCTAssertEqual(fast.data, slow.data, "scale \(shape)")
        }
        var z = Tensor(shape: [2, 2], data: [1, 2, 3, 4])
        addBias(&z, Tensor(shape: [2], data: [10, 20]))
        XCTAssertEqual(z.data, [11, 22, 13, 24])
    }
}
