import KestrelKernels
import KestrelTestSupport
import Foundation
import XCTest

/// A thread-safe tally for concurrent test bodies.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

final class AttentionTests: XCTestCase {
    /// Every combination of mask against the plain-loop reference, on odd sizes. The largest
    /// case is big enough to be split over cores.
    func testMatchesNaive() {
        var rng = SeededRandom(seed: 30)
        for (batch, t, heads, d) in [(1, 1, 1, 1), (2, 3, 1, 7), (3, 7, 3, 5), (2, 17, 2, 8), (3, 33, 4, 16)] {
            let c = heads * d
            let q = randomTensor([batch, t, c], &rng, scale: 2)
            let k = randomTensor([batch, t, c], &rng, scale: 2)
            let v = randomTensor([batch, t, c], &rng)
            // Lengths include an empty sequence, a full one and something in between.
            let lengths = (0..<batch).map { b in [t, 0, max(1, t / 2)][b % 3] }
            for causal in [false, true] {
                for valid in [nil, lengths] {
                    let fast = attention(query: q, key: k, value: v, heads: heads, causal: causal, validLengths: valid)
                    let slow = NaiveKernels.attention(query: q, key: k, value: v, heads: heads, causal: causal, validLengths: valid)
                    XCTAssertEqual(fast.shape, [batch, t, c])
                    assertNoNaN(fast, "B\(batch) T\(t) H\(heads) D\(d) causal \(causal) valid \(String(describing: valid))")
                    assertClose(fast.data, slow.data, absolute: 1e-5,
                                "B\(batch) T\(t) H\(heads) D\(d) causal \(causal) valid \(String(describing: valid))")
                }
            }
        }
    }

    /// Kernels called from several threads at once (each splitting its own work and holding
    /// OpenBLAS to one thread) give the same answers as one at a time.
    func testConcurrentCallersAgree() {
        var rng = SeededRandom(seed: 33)
        let q = randomTensor([2, 33, 64], &rng), k = randomTensor([2, 33, 64], &rng), v = randomTensor([2, 33, 64], &rng)
        let w = randomTensor([96, 64], &rng)
        let expected = attention(query: q, key: k, value: v, heads: 4, causal: true, validLengths: [33, 20])
        let expectedLinear = linear(q, weight: w, bias: nil)
        let failures = Counter()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<5 {
                let got = attention(query: q, key: k, value: v, heads: 4, causal: true, validLengths: [33, 20])
                if maxAbsDifference(got.data, expected.data) > 1e-5 { failures.increment() }
                if maxAbsDifference(linear(q, weight: w, bias: nil).data, expectedLinear.data) > 1e-5 { failures.increment() }
            }
        }
        XCTAssertEqual(failures.value, 0)
    }

    func testCrossAttentionWithDifferentKeyLength() {
        var rng = SeededRandom(seed: 31)
        let q = randomTensor([2, 3, 12], &rng), k = randomTensor([2, 7, 12], &rng), v = randomTensor([2, 7, 12], &rng)
        for causal in [false, true] {
            assertClose(attention(query: q, key: k, value: v, heads: 3, causal: causal, validLengths: [5, 7]).data,
                        NaiveKernels.attention(query: q, key: k, value: v, heads: 3, causal: causal, validLengths: [5, 7]).data,
                        absolute: 1e-5)
        }
    }

    func testSingleKeyReturnsItsValue() {
        let q = Tensor(shape: [1, 1, 4], data: [1, 2, 3, 4])
        let v = Tensor(shape: [1, 1, 4], data: [5, 6, 7, 8])
        XCTAssertEqual(attention(query: q, key: q, value: v, heads: 2, causal: true).data, v.data)
    }

    func testMaskedKeysDoNotMatter() {
        var rng = SeededRandom(seed: 32)
        let q = randomTensor([1, 7, 8], &rng), k = randomTensor([1, 7, 8], &rng), v = randomTensor([1, 7, 8], &rng)
        // Change the last key and value: padding (valid 6) and causality (rows 0..<6) hide it.
        var k2 = k, v2 = v
        for j in 48..<56 { k2.data[j] += 5; v2.data[j] -= 3 }
        let padded = attention(query: q, key: k, value: v, heads: 2, causal: false, validLengths: [6])
        XCTAssertEqual(padded.data, attention(query: q, key: k2, value: v2, heads: 2, causal: false, validLengths: [6]).data)
        let causal = attention(query: q, key: k, value: v, heads: 2, causal: true)
        let causal2 = attention(query: q, key: k2, value: v2, heads: 2, causal: true)
        XCTAssertEqual(Array(causal.data[0..<48]), Array(causal2.data[0..<48]))
        XCTAssertNotEqual(Array(causal.data[48...]), Array(causal2.data[48...]))
    }
}
