import KestrelKernels
import KestrelTestSupport
import Foundation
import XCTest

/// The oneDNN backend, every precision it runs here, against the OpenBLAS reference backend on odd
/// shapes, with and without bias, each activation epilogue, accumulate, 1 and 2 threads.
///
/// Inputs: x uniform in [-1, 1), W uniform in [-1, 1) / sqrt(in), bias uniform in [-1, 1), so the
/// outputs are O(1). Tolerances, per element (r, n), with M[r, n] = sum_k |x[r,k]| |W[n,k]|:
/// - fp32: both sides are fp32 sums in different orders; 1e-4 absolute + 1e-4 relative covers the
///   rounding of a few thousand terms (a random walk of about sqrt(K) 2^-24 M).
/// - bf16: x and W are each rounded to bf16 (relative error <= 2^-9 each), so every product is off
///   by at most ~2^-8 of its size: |err| <= 2^-8 M[r, n], plus the fp32 slack.
/// - int8: x = sx qx + ex with |ex| <= sx / 2, W[n,k] = sw[n] qw + ew with |ew| <= sw[n] / 2, so each
///   product is off by at most sx/2 |W| + sw/2 |x| + sx sw / 4: summed over k,
///   |err| <= sx/2 sum_k |W[n,k]| + sw[n]/2 sum_k |x[r,k]| + K sx sw[n] / 4, plus the fp32 slack.
/// An activation epilogue multiplies an input error by at most its slope (GELU, tanh GELU and
/// QuickGELU all have |f'| < 1.13), so the bounds are multiplied by 1.2 for them.
final class OneDNNBackendTests: XCTestCase {
    private let rowsList = [1, 3, 7, 50, 77, 161]
    private let shapes = [(33, 65), (65, 33), (768, 65), (33, 768), (768, 3072), (3072, 33)]

    private func backend(_ precision: Precision, _ mode: Int8Activations = .u8ZeroPoint,
                         _ epilogue: Int8Epilogue = .postOps) throws -> OneDNNBackend {
        guard GEMMCapabilities.detected.onednn else { throw XCTSkip("oneDNN is not available here") }
        let b = OneDNNBackend(int8Activations: mode, int8Epilogue: epilogue)
        if let missing = GEMMCapabilities.detected.missing(for: precision) { throw XCTSkip(missing) }
        return b
    }

    func testFP32MatchesReferenceOnOddShapes() throws {
        try checkAllShapes(try backend(.fp32), .fp32)
    }

    func testBF16MatchesReferenceWithinRoundingBound() throws {
        try checkAllShapes(try backend(.bf16), .bf16)
    }

    func testInt8U8ZeroPointMatchesReferenceWithinQuantisationBound() throws {
        try checkAllShapes(try backend(.int8, .u8ZeroPoint), .int8)
    }

    func testInt8S8SymmetricMatchesReferenceWithinQuantisationBound() throws {
        try checkAllShapes(try backend(.int8, .s8Symmetric), .int8)
    }

    /// The first int8 formulation (runtime output scales, bias divided by them), kept for benchmarks.
    func testInt8OutputScalesFormulationMatchesReference() throws {
        try checkAllShapes(try backend(.int8, .u8ZeroPoint, .outputScales), .int8)
        try checkAllShapes(try backend(.int8, .s8Symmetric, .outputScales), .int8)
    }

    /// The default int8 formulation (scales and bias as binary post-ops) runs on oneDNN's brgemm
    /// for every epilogue, both activation kinds and 1..1600 rows; the first one on gemm:jit.
    /// (What oneDNN picks is what DNNL_VERBOSE prints; this pins the reason for the formulation.)
    func testInt8PostOpsFormulationRunsOnBrgemm() throws {
        var rng = SeededRandom(seed: 79)
        let w = Tensor(shape: [3072, 768], data: rng.floats(3072 * 768, scale: 0.03))
        for mode in Int8Activations.allCases {
            let lw = LinearWeight(weight: w, bias: nil, precision: .int8, backend: try backend(.int8, mode))
            for rows in [1, 7, 50, 77, 1600] {
                for (activation, accumulate) in [(nil, false), (Activation.gelu, false), (.quickGelu, false), (nil, true)] {
                    for bias in [true, false] {
                        let impl = OneDNNBackend.implementation(of: lw.packed, rows: rows, bias: bias, activation: activation,
                                                                accumulate: accumulate, threads: 2)
                        XCTAssertTrue(impl.hasPrefix("brg"), "\(mode) rows \(rows) \(activation?.rawValue ?? "-") acc \(accumulate) bias \(bias): \(impl)")
                    }
                }
            }
            let old = LinearWeight(weight: w, bias: nil, precision: .int8, backend: try backend(.int8, mode, .outputScales))
            XCTAssertFalse(OneDNNBackend.implementation(of: old.packed, rows: 1600).isEmpty)
        }
    }

    /// int8 accumulates exactly (int32) and quantises big inputs on the call's threads: one thread
    /// and two give the same bits, for both activation kinds, so the split quantisation equals
    /// the single-threaded one (which the bounds above check against the naive twins).
    func testInt8SplitQuantisationMatchesOneThread() throws {
        var rng = SeededRandom(seed: 82)
        let w = Tensor(shape: [96, 768], data: rng.floats(96 * 768, scale: 0.03)), bias = Tensor(shape: [96], data: rng.floats(96))
        let x = rng.floats(400 * 768).map { $0 * 3 + 0.5 }   // 307,200 values: above the split threshold
        for mode in Int8Activations.allCases {
            let lw = LinearWeight(weight: w, bias: bias, precision: .int8, backend: try backend(.int8, mode))
            let one = run(lw, x, 400, .gelu, false, [Float](repeating: 0, count: 400 * 96), 1)
            let two = run(lw, x, 400, .gelu, false, [Float](repeating: 0, count: 400 * 96), 2)
            XCTAssertEqual(one, two, "\(mode)")
        }
    }

    /// The product cache stays within its bound (least recently used evicted), and products stay
    /// right while their primitives are evicted under them from other threads.
    func testPrimitiveCacheIsBounded() throws {
        let b = try backend(.fp32)
        var rng = SeededRandom(seed: 80)
        let w = Tensor(shape: [40, 24], data: rng.floats(40 * 24)), bias = Tensor(shape: [40], data: rng.floats(40))
        let test = LinearWeight(weight: w, bias: bias, precision: .fp32, backend: b)
        let ref = LinearWeight(weight: w, bias: bias, precision: .fp32, backend: GEMMBackends.reference)
        let x = rng.floats(40 * 24)
        OneDNNBackend.setPrimitiveCacheLimit(4)
        defer { OneDNNBackend.setPrimitiveCacheLimit(256) }
        let evicted = OneDNNBackend.primitiveCacheEvictions
        @Sendable func product(_ lw: LinearWeight, _ rows: Int) -> [Float] {
            var y = [Float](repeating: 0, count: rows * 40)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { lw.apply(xp.baseAddress!, rows: rows, into: $0.baseAddress!, threads: 1) }
            }
            return y
        }
        let results = ConcurrentResults(count: 8)
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            var worst: Float = 0
            for i in 0..<30 {
                let rows = 1 + (i * 7 + t) % 40
                let got = product(test, rows), want = product(ref, rows)
                for e in got.indices { worst = max(worst, abs(got[e] - want[e]) / (1 + abs(want[e]))) }
            }
            results.set(t, [worst])
        }
        for t in 0..<8 { XCTAssertLessThanOrEqual(results.get(t)[0], 1e-4, "thread \(t)") }
        XCTAssertLessThanOrEqual(OneDNNBackend.primitiveCache.entries, 4)
        XCTAssertGreaterThan(OneDNNBackend.primitiveCacheEvictions, evicted)
    }

    /// Every epilogue, bias on/off, accumulate, threads 1 and 2 on a spread of (rows, shape); plain
    /// and one activation on the rest. Weights are packed once per shape (and reused for every row
    /// count, as a model does); the error bound is computed once per (rows, shape).
    private func checkAllShapes(_ b: OneDNNBackend, _ precision: Precision) throws {
        var rng = SeededRandom(seed: 70 + UInt64(Precision.allCases.firstIndex(of: precision)!))
        for (j, (inDim, outDim)) in shapes.enumerated() {
            let w = rng.floats(outDim * inDim, scale: 1 / Float(inDim).squareRoot()), bias = rng.floats(outDim)
            let wt = Tensor(shape: [outDim, inDim], data: w), bt = Tensor(shape: [outDim], data: bias)
            let weights = [false, true].map { withBias in
                (ref: LinearWeight(weight: wt, bias: withBias ? bt : nil, precision: .fp32, backend: GEMMBackends.reference),
                 test: LinearWeight(weight: wt, bias: withBias ? bt : nil, precision: precision, backend: b))
            }
            let sw = NaiveKernels.quantizeRowsS8(w, rows: outDim, cols: inDim).scales
            let wSums = (0..<outDim).map { n in w[(n * inDim)..<((n + 1) * inDim)].reduce(0) { $0 + abs($1) } }
            let absW = LinearWeight(weight: Tensor(shape: [outDim, inDim], data: w.map(abs)), bias: nil)
            for (i, rows) in rowsList.enumerated() {
                let x = rng.floats(rows * inDim)
                let y0 = rng.floats(rows * outDim)
                let bound = errorBound(b, precision, x: x, rows: rows, inDim: inDim, outDim: outDim, absW: absW, sw: sw, wSums: wSums)
                let full = (i + j) % 5 == 0
                let cases: [(Activation?, Bool)] = full
                    ? [(nil, false), (.gelu, false), (.geluTanh, false), (.quickGelu, false), (nil, true)]
                    : [(nil, false), (i % 2 == 0 ? .gelu : .quickGelu, false)]
                for (activation, accumulate) in cases {
                    for withBias in full ? [true, false] : [j % 2 == 0] {
                        for threads in full ? [1, 2] : [1 + (i + j) % 2] {
                            let pair = weights[withBias ? 1 : 0]
                            let start = accumulate ? y0 : [Float](repeating: 0, count: rows * outDim)
                            let ref = run(pair.ref, x, rows, activation, accumulate, start, threads)
                            let got = run(pair.test, x, rows, activation, accumulate, start, threads)
                            let slope: Float = activation == nil ? 1 : 1.2
                            for e in got.indices {
                                let tol = slope * bound[e] + 1e-4 + 1e-4 * abs(ref[e])
                                if !(abs(got[e] - ref[e]) <= tol) {
                                    XCTFail("index \(e): \(got[e]) vs \(ref[e]) (tol \(tol)) \(precision) rows \(rows) in \(inDim) out \(outDim) bias \(withBias) \(activation?.rawValue ?? "-") acc \(accumulate) threads \(threads)")
                                    break
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The per-element bound of the class comment (0 for fp32, whose slack is added by the caller).
    private func errorBound(
        _ b: OneDNNBackend, _ precision: Precision, x: [Float], rows: Int, inDim: Int, outDim: Int,
        absW: LinearWeight, sw: [Float], wSums: [Float]
    ) -> [Float] {
        var bound = [Float](repeating: 0, count: rows * outDim)
        switch precision {
        case .fp32: break
        case .bf16:
            bound = run(absW, x.map(abs), rows, nil, false, bound, 1).map { $0 / 256 }
        case .int8:
            let sx = b.int8Activations == .u8ZeroPoint ? NaiveKernels.quantizeU8(x).scale : NaiveKernels.quantizeS8(x).scale
            let rowSums = (0..<rows).map { r in x[(r * inDim)..<((r + 1) * inDim)].reduce(0) { $0 + abs($1) } }
            for r in 0..<rows {
                for n in 0..<outDim {
                    bound[r * outDim + n] = sx / 2 * wSums[n] + sw[n] / 2 * rowSums[r] + Float(inDim) * sx * sw[n] / 4
                }
            }
        }
        return bound
    }

    private func run(
        _ lw: LinearWeight, _ x: [Float], _ rows: Int, _ activation: Activation?, _ accumulate: Bool, _ y0: [Float], _ threads: Int
    ) -> [Float] {
        var y = y0
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                lw.apply(xp.baseAddress!, rows: rows, activation: activation, accumulate: accumulate,
                         into: yp.baseAddress!, threads: threads)
            }
        }
        return y
    }

    /// One packed weight serves every row count (its layout was chosen for big batches), in any order.
    func testOnePackedWeightServesEveryRowCount() throws {
        let b = try backend(.fp32)
        var rng = SeededRandom(seed: 77)
        let inDim = 65, outDim = 33
        let w = rng.floats(outDim * inDim), bias = rng.floats(outDim)
        let lw = LinearWeight(weight: Tensor(shape: [outDim, inDim], data: w), bias: Tensor(shape: [outDim], data: bias),
                              precision: .fp32, backend: b)
        for rows in [161, 1, 50, 2, 1600, 7] {
            let x = rng.floats(rows * inDim)
            var y = [Float](repeating: 0, count: rows * outDim)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { lw.apply(xp.baseAddress!, rows: rows, into: $0.baseAddress!, threads: 2) }
            }
            let ref = NaiveKernels.linear(Tensor(shape: [rows, inDim], data: x), weight: Tensor(shape: [outDim, inDim], data: w),
                                          bias: Tensor(shape: [outDim], data: bias))
            assertClose(y, ref.data, absolute: 1e-4, relative: 1e-4, "rows \(rows)")
        }
    }

    /// One weight used from several threads at once (as the service does), each call with its own
    /// row count and thread count: every result equals the single-threaded one.
    func testConcurrentCallsOnOneWeight() throws {
        let b = try backend(.fp32)
        var rng = SeededRandom(seed: 79)
        let inDim = 65, outDim = 768
        let wt = Tensor(shape: [outDim, inDim], data: rng.floats(outDim * inDim)), bt = Tensor(shape: [outDim], data: rng.floats(outDim))
        let precisions = Precision.allCases.filter { b.supports($0) }
        let weights = precisions.map { LinearWeight(weight: wt, bias: bt, precision: $0, backend: b) }
        let inputs = (0..<8).map { i in rng.floats((1 + 11 * i) * inDim) }
        @Sendable func compute(_ lw: LinearWeight, _ i: Int, threads: Int) -> [Float] {
            let rows = 1 + 11 * i
            var y = [Float](repeating: 0, count: rows * outDim)
            inputs[i].withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { lw.apply(xp.baseAddress!, rows: rows, activation: .gelu, into: $0.baseAddress!, threads: threads) }
            }
            return y
        }
        for lw in weights {
            let expected = (0..<8).map { compute(lw, $0, threads: 1) }
            let results = ConcurrentResults(count: 8)
            DispatchQueue.concurrentPerform(iterations: 8) { i in results.set(i, compute(lw, i, threads: 1 + i % 2)) }
            for i in 0..<8 {
                // int8 quantises per call from the same input, so even it is deterministic here.
                assertClose(results.get(i), expected[i], absolute: 1e-5, relative: 1e-5, "\(lw.precision) call \(i)")
            }
        }
    }

    /// Packed sizes: bf16 halves fp32, int8 quarters it (plus one scale per output channel).
    func testPackedBytesFollowPrecision() throws {
        let b = try backend(.fp32)
        var rng = SeededRandom(seed: 78)
        let w = rng.floats(768 * 768)
        let bytes = Precision.allCases.filter { b.supports($0) }.map { p in
            (p, w.withUnsafeBufferPointer { b.pack(weight: $0.baseAddress!, out: 768, in: 768, precision: p) }.bytes)
        }
        for (p, n) in bytes {
            let expected = p == .fp32 ? 768 * 768 * 4 : p == .bf16 ? 768 * 768 * 2 : 768 * 768 + 768 * 4
            XCTAssertGreaterThanOrEqual(n, expected, "\(p)")
            XCTAssertLessThan(n, expected * 5 / 4, "\(p): padding should stay small")
        }
    }
}

/// Results written by concurrent tasks, one slot each.
final class ConcurrentResults: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [[Float]]
    init(count: Int) { slots = Array(repeating: [], count: count) }
    func set(_ i: Int, _ v: [Float]) { lock.withLock { slots[i] = v } }
    func get(_ i: Int) -> [Float] { lock.withLock { slots[i] } }
}
