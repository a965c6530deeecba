import KestrelKernels
import KestrelTestSupport
import XCTest

/// GEMMBackends.choose(for:): oneDNN for every precision the processor runs, otherwise fp32 with a
/// note that names what is missing. Processors without AVX512-BF16 or VNNI are simulated by
/// passing reduced capabilities (the backend then refuses those precisions itself).
final class GEMMChoiceTests: XCTestCase {
    private let full = GEMMCapabilities(onednn: true, avx512BF16: true, vnni: true)

    func testEveryPrecisionOnOneDNNWhenTheProcessorHasIt() {
        for p in Precision.allCases {
            let c = GEMMBackends.choose(for: p, capabilities: full, environment: [:])
            XCTAssertEqual(c.backend.name, "onednn")
            XCTAssertEqual(c.precision, p)
            XCTAssertNil(c.note)
        }
    }

    func testMissingBF16FallsBackToFP32WithANote() {
        let caps = GEMMCapabilities(onednn: true, avx512BF16: false, vnni: true)
        let c = GEMMBackends.choose(for: .bf16, capabilities: caps, environment: [:])
        XCTAssertEqual(c.precision, .fp32)
        XCTAssertEqual(c.backend.name, "onednn")
        XCTAssertEqual(c.note, "bf16 needs AVX512-BF16, which this processor lacks; using fp32")
        XCTAssertFalse(c.backend.supports(.bf16))
        XCTAssertTrue(c.backend.supports(.int8))
        XCTAssertEqual(GEMMBackends.choose(for: .int8, capabilities: caps, environment: [:]).precision, .int8)
    }

    func testMissingVNNIFallsBackToFP32WithANote() {
        let caps = GEMMCapabilities(onednn: true, avx512BF16: false, vnni: false)
        let c = GEMMBackends.choose(for: .int8, capabilities: caps, environment: [:])
        XCTAssertEqual(c.precision, .fp32)
        XCTAssertEqual(c.note, "int8 needs AVX512-VNNI or AVX-VNNI, which this processor lacks; using fp32")
        XCTAssertFalse(c.backend.supports(.int8))
        XCTAssertNil(GEMMBackends.choose(for: .fp32, capabilities: caps, environment: [:]).note)
    }

    func testWithoutOneDNNEverythingRunsFP32OnOpenBLAS() {
        let caps = GEMMCapabilities(onednn: false, avx512BF16: false, vnni: false)
        let fp32 = GEMMBackends.choose(for: .fp32, capabilities: caps, environment: [:])
        XCTAssertEqual(fp32.backend.name, "openblas")
        XCTAssertNil(fp32.note)
        let int8 = GEMMBackends.choose(for: .int8, capabilities: caps, environment: [:])
        XCTAssertEqual(int8.backend.name, "openblas")
        XCTAssertEqual(int8.precision, .fp32)
        XCTAssertEqual(int8.note, "oneDNN (libdnnl) is not available in this process; using fp32")
    }

    func testEnvironmentForcesTheBackend() {
        let blas = GEMMBackends.choose(for: .fp32, capabilities: full, environment: ["KESTREL_GEMM": "openblas"])
        XCTAssertEqual(blas.backend.name, "openblas")
        XCTAssertNil(blas.note)
        let blasInt8 = GEMMBackends.choose(for: .int8, capabilities: full, environment: ["KESTREL_GEMM": "openblas"])
        XCTAssertEqual(blasInt8.precision, .fp32)
        XCTAssertEqual(blasInt8.note, "KESTREL_GEMM=openblas runs fp32 only; using fp32")
        XCTAssertEqual(GEMMBackends.choose(for: .bf16, capabilities: full, environment: ["KESTREL_GEMM": "onednn"]).backend.name, "onednn")
        let odd = GEMMBackends.choose(for: .fp32, capabilities: full, environment: ["KESTREL_GEMM": "mkl"])
        XCTAssertEqual(odd.backend.name, "onednn")
        XCTAssertEqual(odd.note, "KESTREL_GEMM=mkl is not a backend (openblas or onednn); ignored")
        let absent = GEMMBackends.choose(for: .fp32, capabilities: GEMMCapabilities(onednn: false, avx512BF16: false, vnni: false),
                                         environment: ["KESTREL_GEMM": "onednn"])
        XCTAssertEqual(absent.backend.name, "openblas")
        XCTAssertNotNil(absent.note)
    }

    /// The real processor: whatever choose(for:) picks must run and agree with the reference.
    func testChosenBackendRunsHere() {
        var rng = SeededRandom(seed: 5)
        let w = Tensor(shape: [17, 33], data: rng.floats(17 * 33)), x = rng.floats(3 * 33)
        let ref = NaiveKernels.linear(Tensor(shape: [3, 33], data: x), weight: w, bias: nil).data
        for p in Precision.allCases {
            let c = GEMMBackends.choose(for: p)
            let lw = LinearWeight(weight: w, bias: nil, precision: c.precision, backend: c.backend)
            var y = [Float](repeating: 0, count: 3 * 17)
            x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { lw.apply(xp.baseAddress!, rows: 3, into: $0.baseAddress!) } }
            // Loosest of the three precisions (int8 on 33 terms of size <= 1: well under 0.2).
            assertClose(y, ref, absolute: 0.2, relative: 0, "\(p) -> \(c.precision) on \(c.backend.name)")
        }
        XCTAssertTrue(OneDNNBackend.notes.isEmpty, "no fallback expected: \(OneDNNBackend.notes)")
    }
}
