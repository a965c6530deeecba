import KestrelImage
import XCTest

/// Kind 4: the decompression-bomb message names the CLI option, not `ImageDecoder.pixelLimit`.
final class Kind4PixelLimitHintTests: XCTestCase {
    func testKind4_PixelLimitMessageNamesTheOption() {
        let text = ImageError.tooManyPixels(path: "/a.png", width: 10, height: 10, limit: 50).description
        XCTAssertTrue(text.contains("--pixel-limit"), text)
        XCTAssertFalse(text.contains("ImageDecoder"), text)
    }
}
