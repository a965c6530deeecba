import KestrelKernels
import KestrelTestSupport
import Foundation
import XCTest

/// OpenMPRows.forEach: every index of 0..<count visited exactly once, on disjoint contiguous
/// ranges, for counts around the thread count; and from several Dispatch threads at once.
final class OpenMPRowsTests: XCTestCase {
    func testEveryRowOnceOnDisjointRanges() {
        for threads in 1...4 {
            for count in [0, 1, 2, 3, 5, 17, 1600] {
                let hits = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, count))
                defer { hits.deallocate() }
                hits.initialize(repeating: 0, count: max(1, count))
                let shared = HitCounter(hits)
                OpenMPRows.forEach(count, threads: threads) { r in
                    for i in r { shared.p[i] += 1 }   // ranges are disjoint: no two threads share an index
                }
                for i in 0..<count where hits[i] != 1 {
                    XCTFail("threads \(threads) count \(count): index \(i) visited \(hits[i]) times")
                    break
                }
            }
        }
    }

    func testCalledFromManyThreadsBetweenProducts() throws {
        guard GEMMCapabilities.detected.onednn else { throw XCTSkip("oneDNN is not available here") }
        var rng = SeededRandom(seed: 81)
        let lw = LinearWeight(weight: Tensor(shape: [64, 32], data: rng.floats(64 * 32)), bias: nil, precision: .fp32,
                              backend: OneDNNBackend())
        let x = rng.floats(20 * 32)
        let results = ConcurrentResults(count: 6)
        DispatchQueue.concurrentPerform(iterations: 6) { t in
            var y = [Float](repeating: 0, count: 20 * 64)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    lw.apply(xp.baseAddress!, rows: 20, into: yp.baseAddress!, threads: 2)
                    let shared = HitCounter(UnsafeMutablePointer<Int32>.allocate(capacity: 20))
                    shared.p.initialize(repeating: 0, count: 20)
                    OpenMPRows.forEach(20, threads: 2) { r in for i in r { shared.p[i] += 1 } }
                    yp[0] = Float((0..<20).reduce(0) { $0 + Int(shared.p[$1]) })
                    shared.p.deallocate()
                }
            }
            results.set(t, [y[0]])
        }
        for t in 0..<6 { XCTAssertEqual(results.get(t)[0], 20, "caller \(t)") }
    }
}

private struct HitCounter: @unchecked Sendable {
    let p: UnsafeMutablePointer<Int32>
    init(_ p: UnsafeMutablePointer<Int32>) { self.p = p }
}
