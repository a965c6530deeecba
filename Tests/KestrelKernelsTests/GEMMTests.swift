import KestrelKernels
import KestrelTestSupport
import XCTest

/// GEMM-backed kernels against plain-loop references. Tolerance: float32 sums of up to ~100
/// products of values below 1, compared with Double sums.
final class GEMMTests: XCTestCase {
    func testMatmulKnownValues() {
        let a = Tensor(shape: [2, 2], data: [1, 2, 3, 4])
        let b = Tensor(shape: [2, 2], data: [5, 6, 7, 8])
        XCTAssertEqual(matmul(a, b).data, [19, 22, 43, 50])
        XCTAssertEqual(matmul(a, b, transposeB: true).data, [17, 23, 39, 53])
        XCTAssertEqual(matmul(a, b).shape, [2, 2])
    }

    func testLinearKnownValues() {
        let x = Tensor(shape: [1, 1, 2], data: [1, 2])
        let w = Tensor(shape: [3, 2], data: [1, 0, 0, 1, 1, 1])
        let y = linear(x, weight: w, bias: Tensor(shape: [3], data: [10, 20, 30]))
        XCTAssertEqual(y.shape, [1, 1, 3])
        XCTAssertEqual(y.data, [11, 22, 33])
        XCTAssertEqual(linear(x, weight: w, bias: nil).data, [1, 2, 3])
        // An empty input dimension leaves just the bias.
        let empty = linear(Tensor(shape: [2, 0]), weight: Tensor(shape: [3, 0]), bias: Tensor(shape: [3], data: [1, 2, 3]))
        XCTAssertEqual(empty.shape, [2, 3])
        XCTAssertEqual(empty.data, [1, 2, 3, 1, 2, 3])
    }

    func testLinearMatchesNaive() {
        var rng = SeededRandom(seed: 1)
        for rows in oddSizes {
            for (inDim, outDim) in [(1, 1), (3, 7), (17, 33), (33, 3), (64, 17)] {
                let x = randomTensor([rows, inDim], &rng)
                let w = randomTensor([outDim, inDim], &rng)
                let b = randomTensor([outDim], &rng)
                for bias in [nil, b] {
                    assertClose(linear(x, weight: w, bias: bias).data, NaiveKernels.linear(x, weight: w, bias: bias).data,
                                absolute: 1e-4, "rows \(rows) in \(inDim) out \(outDim)")
                }
            }
        }
        // Rank-3 input keeps its leading dimensions.
        let x = randomTensor([2, 7, 33], &rng), w = randomTensor([17, 33], &rng), b = randomTensor([17], &rng)
        let y = linear(x, weight: w, bias: b)
        XCTAssertEqual(y.shape, [2, 7, 17])
        assertClose(y.data, NaiveKernels.linear(x, weight: w, bias: b).data, absolute: 1e-4)
    }

    /// Few rows take the skinny kernel (rows <= 8), more take OpenBLAS: both against the twin,
    /// at sizes where the skinny kernel splits columns over cores and has SIMD tails.
    func testSkinnyAndBLASPathsMatchNaiveAtModelSizes() {
        var rng = SeededRandom(seed: 9)
        for rows in [1, 7, 8, 9, 16, 50] {
            for (inDim, outDim) in [(512, 2048), (515, 1001), (768, 19)] {
                let x = randomTensor([rows, inDim], &rng), w = randomTensor([outDim, inDim], &rng), b = randomTensor([outDim], &rng)
                assertClose(linear(x, weight: w, bias: b).data, NaiveKernels.linear(x, weight: w, bias: b).data,
                            absolute: 1e-3, relative: 1e-4, "rows \(rows) in \(inDim) out \(outDim)")
            }
        }
    }

    func testMatmulMatchesNaive() {
        var rng = SeededRandom(seed: 2)
        for m in oddSizes {
            for (k, n) in [(1, 1), (3, 17), (33, 7), (7, 33)] {
                let a = randomTensor([m, k], &rng)
                let b = randomTensor([k, n], &rng), bt = randomTensor([n, k], &rng)
                assertClose(matmul(a, b).data, NaiveKernels.matmul(a, b).data, absolute: 1e-4, "m \(m) k \(k) n \(n)")
                let c = matmul(a, bt, transposeB: true)
                XCTAssertEqual(c.shape, [m, n])
                assertClose(c.data, NaiveKernels.matmul(a, bt, transposeB: true).data, absolute: 1e-4, "transposed m \(m) k \(k) n \(n)")
            }
        }
    }

    func testBatchedMatmulMatchesNaive() {
        var rng = SeededRandom(seed: 3)
        // The last shape is big enough to be split over cores by batch.
        for (batch, m, k, n) in [(1, 1, 1, 1), (3, 7, 17, 3), (7, 3, 1, 33), (2, 17, 33, 7), (8, 33, 33, 33)] {
            let a = randomTensor([batch, m, k], &rng)
            let b = randomTensor([batch, k, n], &rng), bt = randomTensor([batch, n, k], &rng)
            let c = batchedMatmul(a, b)
            XCTAssertEqual(c.shape, [batch, m, n])
            assertClose(c.data, NaiveKernels.batchedMatmul(a, b).data, absolute: 1e-4, "\(batch)x\(m)x\(k)x\(n)")
            assertClose(batchedMatmul(a, bt, transposeB: true).data, NaiveKernels.batchedMatmul(a, bt, transposeB: true).data,
                        absolute: 1e-4, "transposed \(batch)x\(m)x\(k)x\(n)")
        }
    }

    func testThreadCountDoesNotChangeResults() {
        XCTAssertGreaterThanOrEqual(Kernels.threads, 1)
        let saved = Kernels.threads
        defer { Kernels.threads = saved }
        var rng = SeededRandom(seed: 4)
        let a = randomTensor([8, 33, 33], &rng), b = randomTensor([8, 33, 33], &rng)
        let x = randomTensor([257, 65], &rng)
        let many = (batchedMatmul(a, b), layerNormOnes(x))
        Kernels.threads = 1
        XCTAssertEqual(Kernels.threads, 1)
        let one = (batchedMatmul(a, b), layerNormOnes(x))
        assertClose(one.0.data, many.0.data, absolute: 1e-5)
        XCTAssertEqual(one.1.data, many.1.data, "row-wise kernels are identical whatever the split")
    }

    private func layerNormOnes(_ x: Tensor) -> Tensor {
        layerNorm(x, weight: Tensor(shape: [x.lastDim], repeating: 1), bias: Tensor(shape: [x.lastDim]), eps: 1e-5)
    }
}
