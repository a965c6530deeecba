import KestrelKernels
import KestrelTestSupport
import XCTest

final class ActivationTests: XCTestCase {
    func testKnownValues() {
        var g = Tensor(shape: [4], data: [1, -1, 0, -100])
        gelu(&g)
        assertClose(g.data, [0.8413447, -0.1586553, 0, 0], absolute: 1e-6)

        var q = Tensor(shape: [4], data: [1, -2, 0, -100])
        quickGelu(&q)
        assertClose(q.data, [1 / (1 + Float(exp(-1.702))), -0.06434138, 0, 0], absolute: 1e-6)

        var t = Tensor(shape: [3], data: [1, 0, -100])
        geluTanh(&t)
        assertClose(t.data, [0.8411920, 0, 0], absolute: 1e-6)
    }

    func testMatchNaive() {
        var rng = SeededRandom(seed: 20)
        for shape in [[1], [7], [3, 17], [33, 33], [200, 517]] {
            let x = randomTensor(shape, &rng, scale: 6)
            for activation in Activation.allCases {
                var fast = x, slow = x
                activation.apply(&fast)
                NaiveKernels.apply(activation, &slow)
                assertNoNaN(fast)
                assertClose(fast.data, slow.data, absolute: 2e-6, "\(activation) \(shape)")
            }
        }
    }

    /// The fast kernels use vector exp/erf approximations (erf within 1.5e-7): check a dense grid
    /// against Double references, including saturated tails.
    func testAccuracyOverWideRange() {
        var grid = (0...4000).map { Float($0 - 2000) / 100 }   // -20 ... 20 step 0.01
        grid += [-1000, -100, -88.5, -87.5, 87.5, 88.5, 100, 1000, 1e-8, -1e-8]
        let x = Tensor(shape: [grid.count], data: grid)
        for activation in Activation.allCases {
            var fast = x, slow = x
            activation.apply(&fast)
            NaiveKernels.apply(activation, &slow)
            assertNoNaN(fast)
            assertClose(fast.data, slow.data, absolute: 1e-6, relative: 1e-5, "\(activation)")
        }
    }

    func testApplyCallsTheFreeFunctions() {
        var rng = SeededRandom(seed: 21)
        let x = randomTensor([3, 7], &rng, scale: 4)
        var a = x, b = x
        Activation.gelu.apply(&a); gelu(&b)
        XCTAssertEqual(a.data, b.data)
        a = x; b = x
        Activation.quickGelu.apply(&a); quickGelu(&b)
        XCTAssertEqual(a.data, b.data)
        a = x; b = x
        Activation.geluTanh.apply(&a); geluTanh(&b)
        XCTAssertEqual(a.data, b.data)
    }

    func testConfigNames() throws {
        XCTAssertEqual(try Activation(configName: "gelu"), .gelu)
        XCTAssertEqual(try Activation(configName: "quick_gelu"), .quickGelu)
        XCTAssertEqual(try Activation(configName: "gelu_pytorch_tanh"), .geluTanh)
        XCTAssertEqual(try Activation(configName: "gelu_new"), .geluTanh)
        XCTAssertEqual(Activation(rawValue: "quick_gelu"), .quickGelu)
        XCTAssertThrowsError(try Activation(configName: "relu")) { error in
            XCTAssertEqual(error as? KernelError, .unknownActivation("relu"))
            let message = "\(error)"
            XCTAssertTrue(message.contains("relu"), message)
            for name in ["gelu", "quick_gelu", "gelu_pytorch_tanh", "gelu_new"] {
                XCTAssertTrue(message.contains(name), message)
            }
        }
    }
}
