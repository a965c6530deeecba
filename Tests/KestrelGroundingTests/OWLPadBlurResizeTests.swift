import XCTest
@testable import KestrelGrounding

/// `OWLResize.padBlurResize` (computed only where the resize reads) against its naive twin: the
/// padded square blurred whole (`gaussianBlur`) then resized (`bilinear`).
final class OWLPadBlurResizeTests: XCTestCase {
    func naive(_ rgb: [UInt8], _ w: Int, _ h: Int, sigma: Float, to m: Int) -> [Float] {
        let n = max(w, h)
        var padded = [Float](repeating: 0, count: 3 * n * n)
        for y in 0..<h { for x in 0..<w { for c in 0..<3 { padded[c * n * n + y * n + x] = Float(rgb[(y * w + x) * 3 + c]) / 255 } } }
        if sigma > 0 { padded = OWLResize.gaussianBlur(padded, channels: 3, size: n, sigma: sigma) }
        return OWLResize.bilinear(padded, channels: 3, size: n, to: m)
    }

    func testMatchesBlurringTheWholePaddedSquare() {
        var state: UInt64 = 7
        for (w, h, m) in [(200, 130, 48), (37, 90, 16), (1, 300, 24), (300, 1, 24), (20, 20, 20), (12, 9, 30), (96, 96, 32)] {
            let rgb = (0..<(w * h * 3)).map { _ -> UInt8 in state = state &* 6364136223846793005 &+ 1442695040888963407; return UInt8(state >> 56) }
            let n = max(w, h)
            let sigma = n != m ? max((Float(n) / Float(m) - 1) / 2, 0) : 0
            let fast = OWLResize.padBlurResize(rgb, width: w, height: h, sigma: sigma, to: m, rescale: 1.0 / 255)
            let slow = naive(rgb, w, h, sigma: sigma, to: m)
            XCTAssertEqual(fast.count, slow.count)
            let worst = zip(fast, slow).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-5, "\(w)x\(h) -> \(m): max abs difference \(worst)")
        }
    }
}
