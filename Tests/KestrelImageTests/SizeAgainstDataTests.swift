import Foundation
import KestrelImage
import KestrelTestSupport
import XCTest

/// Issue 6 kind 3 (sizes checked before allocation) for image files: a header's claimed size is
/// checked against the data the file holds before any pixel memory is sized from it, and a JPEG
/// whose data ends before its image does is an error (Pillow: "image file is truncated").
final class SizeAgainstDataTests: XCTestCase {
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let t = Array(type.utf8)
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        return be(UInt32(data.count)) + t + data + be(crc32(t + data))
    }

    /// The try-out's 68-byte file: IHDR says 13000 x 13000 RGB (507 MB of pixels), IDAT holds
    /// zlib's 11 bytes for ten zero bytes.
    static func fakePNG() -> [UInt8] {
        let ihdr: [UInt8] = [0, 0, 0x32, 0xC8, 0, 0, 0x32, 0xC8, 8, 2, 0, 0, 0]
        let idat: [UInt8] = [0x78, 0x9C, 0x63, 0x60, 0x80, 0x01, 0x00, 0x00, 0x0A, 0x00, 0x01]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", idat) + chunk("IEND", [])
    }

    func testKind3_PNGWhoseDataCannotHoldItsClaimedSizeIsTruncatedBeforeAllocating() throws {
        let bytes = Self.fakePNG()
        XCTAssertEqual(bytes.count, 68)
        // 13000 rows of (1 filter byte + 39000 sample bytes), at 1032:1 at best: 491,291 bytes.
        let expected = ImageError.truncated(
            path: "fake.png",
            detail: "the file holds 11 bytes of compressed pixel data; a 13000x13000 image needs at least 491291, even at deflate's best ratio of 1032:1")
        XCTAssertThrowsError(try ImageDecoder().decode(bytes: bytes, name: "fake.png")) { XCTAssertEqual($0 as? ImageError, expected) }
        // The memory estimate, which reads headers only, refuses it the same way: the error
        // comes from the chunk headers, before libpng or any pixel buffer is involved.
        let pre = Preprocessor(config: try PreprocessConfig.load(modelDirectory: fixture("hf_model")))
        XCTAssertThrowsError(try pre.memoryEstimate(bytes: bytes, name: "fake.png")) { XCTAssertEqual($0 as? ImageError, expected) }
    }

    /// The floor must not refuse a real file compressed about as well as deflate can (zlib level
    /// 9 on a black image: 26,263 IDAT bytes where the floor is 26,165).
    func testKind3_highlyCompressedRealPNGStillDecodes() throws {
        let image = try ImageDecoder().decode(contentsOf: fixture("png_flat_3000.png"))
        XCTAssertEqual([image.width, image.height], [3000, 3000])
        XCTAssertEqual(image.mode, .rgb)
        XCTAssertTrue(image.pixels.allSatisfy { $0 == 0 })
    }

    /// jpeg_baseline.jpg with its frame header (SOF0) patched to claim `w` x `h`.
    static func jpegClaiming(width w: Int, height h: Int) throws -> [UInt8] {
        var b = [UInt8](try Data(contentsOf: fixture("jpeg_baseline.jpg")))
        guard let sof = (0..<(b.count - 9)).first(where: { b[$0] == 0xFF && b[$0 + 1] == 0xC0 }) else {
            throw XCTSkip("no SOF0 in the fixture")
        }
        b[sof + 5] = UInt8(h >> 8); b[sof + 6] = UInt8(h & 0xFF); b[sof + 7] = UInt8(w >> 8); b[sof + 8] = UInt8(w & 0xFF)
        return b
    }

    func testKind3_JPEGTooSmallForItsClaimedSizeIsTruncatedBeforeAllocating() throws {
        let bytes = try Self.jpegClaiming(width: 4000, height: 4000)  // 4,663 bytes; at least 7,812 needed
        let expected = ImageError.truncated(
            path: "big.jpg", detail: "the file has \(bytes.count) bytes; a 4000x4000 JPEG needs at least 7812, one bit per 8x8 block")
        XCTAssertThrowsError(try ImageDecoder().decode(bytes: bytes, name: "big.jpg")) { XCTAssertEqual($0 as? ImageError, expected) }
    }

    /// A JPEG cut inside its scan, with an end-of-image marker after the cut (what a broken
    /// transfer repaired by a tool looks like): libjpeg warns "premature end of data segment"
    /// and fills the rest with grey. That is a truncated image, not a picture.
    func testKind3_JPEGWhoseScanEndsBeforeTheImageIsTruncated() throws {
        let full = [UInt8](try Data(contentsOf: fixture("jpeg_baseline.jpg")))
        guard let sos = (0..<(full.count - 1)).first(where: { full[$0] == 0xFF && full[$0 + 1] == 0xDA }) else {
            return XCTFail("no SOS in the fixture")
        }
        let cut = sos + (full.count - sos) / 2
        let bytes = Array(full[..<cut]) + [0xFF, 0xD9]
        XCTAssertThrowsError(try ImageDecoder().decode(bytes: bytes, name: "cut.jpg")) {
            guard case .truncated(let path, let detail)? = $0 as? ImageError else { return XCTFail("\($0)") }
            XCTAssertEqual(path, "cut.jpg")
            XCTAssertTrue(detail.contains("premature end of data segment"), detail)
        }
        // A JPEG cut without an end marker fails the same way.
        XCTAssertThrowsError(try ImageDecoder().decode(bytes: Array(full[..<cut]), name: "cut.jpg")) {
            guard case .truncated? = $0 as? ImageError else { return XCTFail("\($0)") }
        }
    }

    /// The estimate covers the decoded pixels: at least 3 bytes per pixel of an RGB image.
    func testMemoryEstimateCoversTheDecodedPixels() throws {
        let pre = Preprocessor(config: try PreprocessConfig.load(modelDirectory: fixture("hf_model")))
        let bytes = [UInt8](try Data(contentsOf: fixture("png_flat_3000.png")))
        let estimate = try pre.memoryEstimate(bytes: bytes, name: "flat")
        XCTAssertGreaterThanOrEqual(estimate, 3000 * 3000 * 3)
        XCTAssertLessThan(estimate, 3000 * 3000 * 12)
    }
}
