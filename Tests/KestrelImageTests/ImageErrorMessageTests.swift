import KestrelImage
import XCTest

/// The pixel-limit message names the option a user can pass, and never traps on its own numbers.
final class ImageErrorMessageTests: XCTestCase {
    func testTooManyPixelsNamesThePixelLimitOption() {
        let message = ImageError.tooManyPixels(path: "a.png", width: 4000, height: 3000, limit: 1000).description
        XCTAssertTrue(message.hasPrefix("a.png: 4000x3000 = 12000000 pixels exceeds the limit of 1000"), message)
        XCTAssertTrue(message.hasSuffix("pass --pixel-limit 12000000"), message)
        XCTAssertFalse(message.contains("ImageDecoder") || message.contains("pixelLimit"), message)
    }

    func testAnOverflowingSizeIsDescribedWithoutTrapping() {
        let message = ImageError.tooManyPixels(path: "the image resized to huge", width: Int.max / 2, height: 224, limit: 1000).description
        XCTAssertTrue(message.contains("more than any pixel limit"), message)
    }
}
