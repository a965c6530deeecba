// Kind 11 of issue 6: photo-library expectations (EXIF orientation, 16-bit images).
// Fixtures come from Notebooks/fixtures/image_fixtures.py (fixed seeds).
import Foundation
import KestrelImage
import KestrelTestSupport
import XCTest

final class PhotoLibraryTests: XCTestCase {
    /// 16-bit gray is scaled to 8 bits by its high byte, as viewers show it (and as Pillow already
    /// reads 16-bit RGB), not clipped to 255 as Pillow's I;16 -> RGB conversion does.
    func testKind11_16BitGrayIsScaledToItsHighByteNotClipped() throws {
        let image = try ImageDecoder().decode(contentsOf: fixture("png_gray16.png"))
        XCTAssertEqual(image.mode, .gray)
        XCTAssertEqual(image.pixels, try bytes("png_gray16.decoded.u8"))
        // The top-left 10 x 10 block holds 60000: 60000 >> 8 = 234. Clipping would give 255,
        // and the rest of the picture (samples around 2..560) would turn white instead of near black.
        XCTAssertEqual(image.pixels.first, 234)
        let rgb = try Preprocessor(config: .openCLIP(size: 64)).pixelsRGB(image)
        XCTAssertLessThan(rgb.pixels.map(Int.init).reduce(0, +) / rgb.pixels.count, 40, "mean level of a dark picture")
    }
}

/// EXIF orientation: one upright 40 x 24 picture stored in each of the 8 orientations.
final class EXIFOrientationTests: XCTestCase {
    func testKind11_EveryEXIFOrientationGivesTheUprightPicture() throws {
        let upright = try bytes("exif_upright.decoded.u8")
        let m = try Manifest.load()
        for o in 1...8 {
            // PNG (eXIf chunk, lossless): every orientation shows exactly the upright picture.
            let png = try ImageDecoder().decode(contentsOf: fixture("exif_png_o\(o).png"))
            XCTAssertEqual([png.width, png.height], [40, 24], "png orientation \(o)")
            XCTAssertEqual(png.pixels, upright, "png orientation \(o)")
            // `ignore` gives the pixels as stored (sideways for 5-8), as PIL.Image.open does.
            let stored = try ImageDecoder(orientation: .ignore).decode(contentsOf: fixture("exif_png_o\(o).png"))
            XCTAssertEqual([stored.width, stored.height], o >= 5 ? [24, 40] : [40, 24], "png orientation \(o)")
            XCTAssertEqual(stored.pixels, try bytes("exif_png_o\(o).decoded.u8"), "png orientation \(o)")
            if o != 1 && o != 0 { XCTAssertNotEqual(stored.pixels, upright, "png orientation \(o)") }
            // JPEG (APP1 Exif, either byte order): what PIL's exif_transpose gives, byte for byte.
            let c = try XCTUnwrap(m.cases.first { $0.name == "exif_jpeg_o\(o)" })
            XCTAssertEqual(c.orientation, o)
            let jpeg = try ImageDecoder().decode(contentsOf: fixture(c.file))
            XCTAssertEqual([jpeg.width, jpeg.height], c.upright_size, "jpeg orientation \(o)")
            XCTAssertEqual(jpeg.pixels, try bytes(c.upright!), "jpeg orientation \(o)")
        }
    }

    func testKind11_OrientationIsAppliedBeforeResizing() throws {
        // The pipelines' output for an oriented JPEG equals the reference run on exif_transpose(image).
        let m = try Manifest.load()
        var checked = 0
        for c in m.cases where c.orientation != nil {
            for r in c.refs where r.orientation == "exif" {
                let pre = Preprocessor(config: r.pipeline == "hf" ? .huggingFace(size: r.size) : .openCLIP(size: r.size))
                let rgb = try pre.pixelsRGB(try ImageDecoder().decode(contentsOf: fixture(c.file)))
                let ref = try bytes(r.u8)
                let n = r.size * r.size
                let chw = (0..<(3 * n)).map { rgb.pixels[3 * ($0 % n) + $0 / n] }
                XCTAssertEqual(chw, ref, "\(c.name) \(r.pipeline)\(r.size)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 14)  // orientations 2-8, two pipelines
    }

    func testKind11_DamagedEXIFNeverCrashesAndIsIgnored() throws {
        let file = try bytes("exif_jpeg_o6.jpg")
        let stored = try ImageDecoder(orientation: .ignore).decode(bytes: file, name: "o6")
        let upright = try ImageDecoder().decode(bytes: file, name: "o6")
        XCTAssertEqual([upright.width, upright.height], [40, 24])
        // The APP1 segment: FF E1, length, "Exif\0\0", TIFF block.
        let app1 = try XCTUnwrap((0..<(file.count - 1)).first { file[$0] == 0xFF && file[$0 + 1] == 0xE1 })
        let length = Int(file[app1 + 2]) << 8 | Int(file[app1 + 3])
        var outcomes: Set<String> = []
        for i in (app1 + 2)..<(app1 + 2 + length) {
            for flip: UInt8 in [0xFF, 0x80, 0x01] {
                var damaged = file
                damaged[i] ^= flip
                // A damaged length can break the JPEG itself: then it is a decode error, not a crash.
                guard let image = try? ImageDecoder().decode(bytes: damaged, name: "damaged") else { outcomes.insert("error"); continue }
                if image == upright { outcomes.insert("upright") } else if image == stored { outcomes.insert("stored") } else {
                    // Another valid orientation tag value (1-8) gives that orientation of the stored pixels.
                    XCTAssertTrue((1...8).contains { stored.oriented($0) == image }, "byte \(i) ^ \(flip)")
                    outcomes.insert("other")
                }
            }
        }
        XCTAssertTrue(outcomes.isSuperset(of: ["upright", "stored"]), "\(outcomes)")
        // Truncated inside the EXIF block: never a crash.
        for cut in stride(from: app1, to: app1 + 2 + length, by: 1) {
            _ = try? ImageDecoder().decode(bytes: Array(file[..<cut]), name: "cut")
        }
    }

    func testKind11_OrientedTransposesMatchTheirDefinitions() {
        // 3 x 2 image, one gray level per pixel:  0 1 2 / 3 4 5
        let im = DecodedImage(width: 3, height: 2, mode: .gray, pixels: [0, 1, 2, 3, 4, 5])
        let expected: [Int: (Int, Int, [UInt8])] = [
            1: (3, 2, [0, 1, 2, 3, 4, 5]),
            2: (3, 2, [2, 1, 0, 5, 4, 3]),        // mirrored
            3: (3, 2, [5, 4, 3, 2, 1, 0]),        // rotated 180
            4: (3, 2, [3, 4, 5, 0, 1, 2]),        // flipped
            5: (2, 3, [0, 3, 1, 4, 2, 5]),        // transposed
            6: (2, 3, [3, 0, 4, 1, 5, 2]),        // rotated 90 clockwise
            7: (2, 3, [5, 2, 4, 1, 3, 0]),        // transverse
            8: (2, 3, [2, 5, 1, 4, 0, 3]),        // rotated 90 counter-clockwise
        ]
        for (o, (w, h, px)) in expected {
            let out = im.oriented(o)
            XCTAssertEqual([out.width, out.height], [w, h], "orientation \(o)")
            XCTAssertEqual(out.pixels, px, "orientation \(o)")
        }
    }
}
