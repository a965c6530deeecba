import Foundation
import KestrelImage
import KestrelTestSupport
import XCTest

final class DecoderErrorTests: XCTestCase {
    func decodeError(_ name: String, decoder: ImageDecoder = ImageDecoder()) -> ImageError? {
        do {
            _ = try decoder.decode(contentsOf: fixture(name))
            return nil
        } catch let e as ImageError {
            XCTAssertTrue(e.description.contains(name), "\(e) should name \(name)")
            return e
        } catch {
            XCTFail("\(name): untyped error \(error)")
            return nil
        }
    }

    func testBrokenAndForeignFilesGiveTypedErrors() throws {
        let path = { (n: String) in fixture(n).path }
        guard case .truncated(let p1, _)? = decodeError("bad_truncated.jpg") else { return XCTFail("truncated jpeg") }
        XCTAssertEqual(p1, path("bad_truncated.jpg"))
        guard case .truncated? = decodeError("bad_truncated.png") else { return XCTFail("truncated png") }
        guard case .corrupt? = decodeError("bad_corrupt.jpg") else { return XCTFail("corrupt jpeg") }
        XCTAssertEqual(decodeError("bad_empty.png"), .empty(path: path("bad_empty.png")))
        XCTAssertEqual(decodeError("bad_gif.gif"), .unsupportedFormat(path: path("bad_gif.gif"), format: "GIF"))
        XCTAssertEqual(decodeError("bad_bmp.jpg"), .unsupportedFormat(path: path("bad_bmp.jpg"), format: "BMP"))
        XCTAssertEqual(decodeError("bad_text.png"), .unsupportedFormat(path: path("bad_text.png"), format: "unknown"))
        guard case .unreadable? = decodeError("no_such_file.png") else { return XCTFail("missing file") }
    }

    func testSniffsWebPAndTIFF() {
        let webp = Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBPVP8 ".utf8)
        XCTAssertEqual(ImageFormat.sniff(webp), .webp)
        XCTAssertEqual(ImageFormat.sniff([0x49, 0x49, 0x2A, 0x00, 1]), .tiff)
        XCTAssertEqual(ImageFormat.sniff([0x4D, 0x4D, 0x00, 0x2A, 1]), .tiff)
        XCTAssertThrowsError(try ImageDecoder().decode(bytes: webp, name: "x.webp")) {
            XCTAssertEqual($0 as? ImageError, .unsupportedFormat(path: "x.webp", format: "WebP"))
        }
    }

    /// The bomb's header claims 100000 x 100000 RGB (30 GB) and has no pixel data at all: the
    /// refusal can only come from the header check, before any allocation or decoding.
    func testPixelLimitRefusesBeforeAllocating() throws {
        XCTAssertEqual(
            decodeError("bad_bomb.png"),
            .tooManyPixels(path: fixture("bad_bomb.png").path, width: 100_000, height: 100_000, limit: ImageDecoder.defaultPixelLimit))
        let header = try ImageDecoder().readHeader(contentsOf: fixture("bad_bomb.png"))
        XCTAssertEqual(header, ImageHeader(format: .png, width: 100_000, height: 100_000))
        // A configurable limit: 97 x 61 = 5917 pixels.
        let small = ImageDecoder(pixelLimit: 5916)
        XCTAssertEqual(
            decodeError("png_rgb.png", decoder: small),
            .tooManyPixels(path: fixture("png_rgb.png").path, width: 97, height: 61, limit: 5916))
        guard case .tooManyPixels? = decodeError("jpeg_baseline.jpg", decoder: ImageDecoder(pixelLimit: 100)) else {
            return XCTFail("jpeg limit")
        }
        XCTAssertNoThrow(try ImageDecoder(pixelLimit: 5917).decode(contentsOf: fixture("png_rgb.png")))
    }
}
