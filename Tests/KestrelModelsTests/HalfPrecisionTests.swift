import Foundation
import KestrelModels
import KestrelTestSupport
import XCTest

/// The bit-manipulating F16 / BF16 widening against its naive twin, on every 16-bit pattern.
final class HalfPrecisionTests: XCTestCase {
    /// All 65,536 bit patterns, little-endian, after one padding byte (so every load is unaligned).
    let patterns: [UInt8] = [0xAB] + (0...0xFFFF).flatMap { (h: Int) in [UInt8(h & 0xFF), UInt8(h >> 8)] }

    func testF16MatchesFloatFromFloat16OnEveryBitPattern() {
        var fast = [Float](repeating: 0, count: 65_536), naive = fast
        patterns.withUnsafeBytes { raw in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[1...])
            fast.withUnsafeMutableBufferPointer { HalfPrecision.widenF16(bytes, into: $0, count: 65_536) }
            naive.withUnsafeMutableBufferPointer { HalfPrecision.naiveWidenF16(bytes, into: $0, count: 65_536) }
        }
        // Exact bits on every pattern, NaNs included (a signaling NaN comes out quiet in both).
        var mismatches = 0
        for h in 0...0xFFFF where fast[h].bitPattern != naive[h].bitPattern {
            mismatches += 1
            if mismatches <= 5 { XCTFail(String(format: "half 0x%04X: fast 0x%08X, Float(Float16) 0x%08X", h, fast[h].bitPattern, naive[h].bitPattern)) }
        }
        XCTAssertEqual(mismatches, 0)
        // Spot values, independent of either implementation.
        XCTAssertEqual(fast[0x3C00], 1)
        XCTAssertEqual(fast[0xC000], -2)
        XCTAssertEqual(fast[0x7BFF], 65_504)
        XCTAssertEqual(fast[0x0001], 0x1p-24)                       // smallest subnormal
        XCTAssertEqual(fast[0x03FF], Float(1023) * 0x1p-24)         // largest subnormal
        XCTAssertEqual(fast[0x8000].bitPattern, (-0.0 as Float).bitPattern)
        XCTAssertEqual(fast[0x7C00], .infinity)
        XCTAssertEqual(fast[0xFC00], -.infinity)
        XCTAssertTrue(fast[0x7E00].isNaN && fast[0xFE01].isNaN && fast[0x7C01].isNaN)
        XCTAssertEqual(fast[0x7C01].bitPattern, 0x7FC0_2000)                 // signaling NaN: quieted, payload kept
        XCTAssertEqual(fast[0xFE01].bitPattern, 0xFFC0_2000)
    }

    func testBF16IsTheTopHalfOfAFloat32OnEveryBitPattern() {
        var out = [Float](repeating: 0, count: 65_536)
        patterns.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { HalfPrecision.widenBF16(UnsafeRawBufferPointer(rebasing: raw[1...]), into: $0, count: 65_536) }
        }
        for h in 0...0xFFFF where out[h].bitPattern != UInt32(h) << 16 {
            XCTFail(String(format: "bfloat16 0x%04X gave 0x%08X", h, out[h].bitPattern)); return
        }
        XCTAssertEqual(out[0x3F80], 1)
        XCTAssertEqual(out[0xC040], -3)
    }

    /// Through the file reader: an F16 tensor of every pattern, stored at an odd offset.
    func testSafeTensorsF16TensorReadsEveryBitPatternExactly() throws {
        let url = Fixtures.temporaryDirectory().appendingPathComponent("all.safetensors")
        var header = #"{"pad":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"#
            + #""h":{"dtype":"F16","shape":[256,256],"data_offsets":[1,131073]}}"#
        while header.utf8.count % 8 != 0 { header += " " }
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: patterns)
        try data.write(to: url)
        let values = try SafeTensorsFile(url: url).floats("h")
        XCTAssertEqual(values.count, 65_536)
        var naive = [Float](repeating: 0, count: 65_536)
        patterns.withUnsafeBytes { raw in
            naive.withUnsafeMutableBufferPointer { HalfPrecision.naiveWidenF16(UnsafeRawBufferPointer(rebasing: raw[1...]), into: $0, count: 65_536) }
        }
        for h in 0...0xFFFF where values[h].bitPattern != naive[h].bitPattern {
            XCTFail(String(format: "half 0x%04X read as 0x%08X, Float(Float16) gives 0x%08X", h, values[h].bitPattern, naive[h].bitPattern)); return
        }
    }
}
