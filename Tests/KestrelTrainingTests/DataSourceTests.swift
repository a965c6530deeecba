import Foundation
import KestrelImage
import KestrelTestSupport
import KestrelTokenizer
@testable import KestrelTraining
import XCTest

/// Readers of the data sources: idx in gzip, the colour emoji font, file-name captions, CSV.
final class DataSourceTests: XCTestCase {
    func testIDXReaderReadsSyntheticGzip() throws {
        let dir = Fixtures.temporaryDirectory("idx")
        let pixels: [UInt8] = (0..<12).map { UInt8($0 * 20) }
        let gz = StoredGzip.make(IDXFile.encode(dimensions: [3, 2, 2], data: pixels))
        XCTAssertEqual(Array(gz.prefix(2)), [0x1F, 0x8B])
        let url = dir.appendingPathComponent("images-idx3-ubyte.gz")
        try Data(gz).write(to: url)
        let idx = try IDXFile.read(gzipPath: url.path, package: "test", expectedDimensions: 3)
        XCTAssertEqual(idx.dimensions, [3, 2, 2])
        XCTAssertEqual(idx.data, pixels)
        let labels = try IDXFile.parse(IDXFile.encode(dimensions: [3], data: [1, 9, 0]), name: "l", expectedDimensions: 1)
        XCTAssertEqual(labels.data, [1, 9, 0])
    }

    func testIDXReaderRefusesBadMagicTruncationAndDamagedGzip() throws {
        var bytes = IDXFile.encode(dimensions: [2, 2, 2], data: [UInt8](repeating: 7, count: 8))
        bytes[2] = 0x09  // signed bytes: not what Fashion-MNIST holds
        XCTAssertThrowsError(try IDXFile.parse(bytes, name: "x.gz", expectedDimensions: 3)) { e in
            XCTAssertTrue("\(e)".contains("magic number 0x00000903"), "\(e)")
        }
        let short = Array(IDXFile.encode(dimensions: [2, 2, 2], data: [UInt8](repeating: 7, count: 8)).dropLast())
        XCTAssertThrowsError(try IDXFile.parse(short, name: "x.gz", expectedDimensions: 3)) { e in
            XCTAssertTrue("\(e)".contains("need 8 data bytes, file has 7"), "\(e)")
        }
        XCTAssertThrowsError(try IDXFile.parse(IDXFile.encode(dimensions: [8], data: [UInt8](repeating: 0, count: 8)), name: "x", expectedDimensions: 3))
        let gz = StoredGzip.make([UInt8](repeating: 1, count: 1000))
        XCTAssertThrowsError(try GzipFile.gunzip(Array(gz.prefix(gz.count / 2)), name: "half.gz")) { e in
            XCTAssertTrue("\(e)".contains("half.gz"), "\(e)")
        }
        XCTAssertEqual(try GzipFile.gunzip(gz, name: "whole.gz"), [UInt8](repeating: 1, count: 1000))
        // A size limit, checked while inflating, names the file.
        XCTAssertThrowsError(try GzipFile.gunzip(gz, name: "big.gz", limit: 999)) { e in
            XCTAssertTrue("\(e)".contains("big.gz") && "\(e)".contains("more than 999 bytes"), "\(e)")
        }
        // A damaged idx.gz read by the data builder is a DataBuildError naming the file.
        let dir = Fixtures.temporaryDirectory("idx-damaged")
        let url = dir.appendingPathComponent("t10k-images-idx3-ubyte.gz")
        try Data(gz.prefix(gz.count / 2)).write(to: url)
        XCTAssertThrowsError(try IDXFile.read(gzipPath: url.path, package: "dataset-fashion-mnist", expectedDimensions: 1)) { e in
            XCTAssertEqual(e as? DataBuildError, .damaged(path: url.path, detail: "gzip: truncated stream"), "\(e)")
        }
        XCTAssertThrowsError(try IDXFile.read(gzipPath: "/nonexistent/t10k.gz", package: "dataset-fashion-mnist", expectedDimensions: 1)) { e in
            XCTAssertTrue("\(e)".contains("install dataset-fashion-mnist"), "\(e)")
        }
    }

    func testFashionMNISTCaptionsAreVariedAndUseTheEnsemble() {
        let a = FashionMNISTSource.captions(label: 9, index: 3, seed: 0)
        XCTAssertEqual(a, FashionMNISTSource.captions(label: 9, index: 3, seed: 0))
        XCTAssertEqual(a.count, 4)
        XCTAssertEqual(Set(a).count, 4, "\(a)")
        XCTAssertTrue(a[0].contains("ankle boot"))
        var all = Set<String>()
        for i in 0..<200 { all.formUnion(FashionMNISTSource.captions(label: 1, index: i, seed: 0)) }
        XCTAssertTrue(all.contains("a photo of a trousers."))
        XCTAssertTrue(all.contains { $0.contains("pants") })
        XCTAssertGreaterThan(all.count, 20)
    }

    func testEmojiFontParsesBitmapsAndDogFaceIsAPNG() throws {
        let path = EmojiSource.fontPath
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("fonts-noto-color-emoji is not installed") }
        let font = try ColorBitmapFont(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), path: path)
        let cmap = try font.characterMap()
        let bitmaps = try font.bitmaps()
        XCTAssertGreaterThan(bitmaps.count, 1000)
        let glyph = try XCTUnwrap(cmap[0x1F436])
        let png = try XCTUnwrap(bitmaps[glyph])
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let im = try ImageDecoder().decode(bytes: png, name: "dog face")
        XCTAssertGreaterThan(im.width, 64)
        XCTAssertEqual(EmojiSource.plainName(0x1F436), "dog face")
        XCTAssertTrue(EmojiSource.isStandaloneEmoji(0x1F436))
        for c: UInt32 in [0xFE0F, 0x200D, 0x1F1E6, 0x1F3FB, 0xE0061, 0x41] { XCTAssertFalse(EmojiSource.isStandaloneEmoji(c), "\(c)") }
    }

    func testDamagedFontIsAnErrorNamingTheTable() throws {
        let path = EmojiSource.fontPath
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("fonts-noto-color-emoji is not installed") }
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // Cut short: the table directory points past the end.
        XCTAssertThrowsError(try ColorBitmapFont(bytes: Array(bytes.prefix(100_000)), path: "cut.ttf")) { e in
            XCTAssertTrue("\(e)".contains("runs past the end"), "\(e)")
        }
        XCTAssertThrowsError(try ColorBitmapFont(bytes: [0, 1], path: "tiny.ttf"))
        // A CBLC whose index subtable array offset points outside the table.
        let font = try ColorBitmapFont(bytes: bytes, path: path)
        let cblc = try XCTUnwrap(font.tables["CBLC"])
        var bad = bytes
        for k in 0..<4 { bad[cblc.offset + 8 + k] = 0x7F }
        XCTAssertThrowsError(try ColorBitmapFont(bytes: bad, path: "bad.ttf").bitmaps()) { e in
            XCTAssertTrue("\(e)".contains("CBLC"), "\(e)")
        }
        // Random damage anywhere in CBLC / cmap never traps.
        var rng = TrainingRNG(seed: 5)
        for table in ["CBLC", "cmap"] {
            let t = try XCTUnwrap(font.tables[table])
            for _ in 0..<20 {
                var b = bytes
                for _ in 0..<8 { b[t.offset + Int(rng.next() % UInt64(min(t.length, 4096)))] = UInt8(truncatingIfNeeded: rng.next()) }
                if let f = try? ColorBitmapFont(bytes: b, path: "x") { _ = try? f.characterMap(); _ = try? f.bitmaps() }
            }
        }
    }

    /// A cmap of format 12 whose groups each span all of Unicode: refused naming the table once
    /// the groups together map more code points than Unicode has (it built a map of 40 x 1.1M before).
    func testFormat12GroupsCannotMapMoreThanUnicode() throws {
        func be16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        func be32(_ v: Int) -> [UInt8] { be16(v >> 16) + be16(v & 0xFFFF) }
        func font(groups: [(Int, Int)]) -> [UInt8] {
            var cmap = be16(0) + be16(1) + be16(3) + be16(10) + be32(12)            // one encoding record: 3/10
            cmap += be16(12) + be16(0) + be32(16 + 12 * groups.count) + be32(0) + be32(groups.count)
            for (a, b) in groups { cmap += be32(a) + be32(b) + be32(1) }
            return be32(0x0001_0000) + be16(1) + be16(16) + be16(0) + be16(0)     // sfnt header, one table
                + Array("cmap".utf8) + be32(0) + be32(28) + be32(cmap.count) + cmap
        }
        let ok = try ColorBitmapFont(bytes: font(groups: [(0x41, 0x43), (0x1F600, 0x1F600)]), path: "ok.ttf").characterMap()
        XCTAssertEqual(ok, [0x41: 1, 0x42: 2, 0x43: 3, 0x1F600: 1])
        let hostile = font(groups: [(0, 0x10FFFF), (0, 0x10FFFF)])
        XCTAssertThrowsError(try ColorBitmapFont(bytes: hostile, path: "hostile.ttf").characterMap()) { e in
            XCTAssertTrue("\(e)".contains("hostile.ttf") && "\(e)".contains("cmap:") && "\(e)".contains("more than 1114112 code points"), "\(e)")
        }
    }

    func testOpenClipartTitlesAndCaptions() {
        let t = OpenClipartSource.title("cone_soft_vanilla_01", authors: [])
        XCTAssertEqual(t, "cone soft vanilla")
        XCTAssertEqual(OpenClipartSource.title("apple_bitten_dan_gerhard_01", authors: ["gerhard", "dan"]), "apple bitten")
        XCTAssertEqual(OpenClipartSource.title("dan_gerhard", authors: ["gerhard", "dan"]), "dan")
        let caps = OpenClipartSource.captions(title: t, folders: ["food", "desserts"])
        XCTAssertTrue(caps.contains("a clip art drawing of a cone soft vanilla"), "\(caps)")
        XCTAssertTrue(caps.contains("cone soft vanilla, desserts"), "\(caps)")
        let items = (0..<10).map { i in OpenClipartSource.Item(relative: [], folders: ["t\(i % 4)"], stem: "thing\(i)_ganson_01") }
        XCTAssertTrue(OpenClipartSource.authorTokens(items).contains("ganson"))
    }

    func testCSVQuotingAndStableHeldOutHash() {
        XCTAssertEqual(DataText.csv(header: ["path", "caption"], rows: [["a.png", "x, \"y\""]]),
                       "path,caption\r\na.png,\"x, \"\"y\"\"\"\r\n")
        XCTAssertEqual(DataText.stableHash(Array("food/a.png".utf8), seed: 0), DataText.stableHash(Array("food/a.png".utf8), seed: 0))
        let held = (0..<5000).filter { DataText.isHeldOut(Array("f/\($0).png".utf8), seed: 1) }.count
        XCTAssertEqual(Double(held) / 5000, 0.1, accuracy: 0.02)
        XCTAssertEqual(DataText.slug("Dog Face!"), "dog-face")
    }

    func testResizeAveragesAreasAndFitPadsWhite() {
        // 4×2 gray -> 2×1: each output is the mean of a 2×2 block.
        let px: [UInt8] = [0, 100, 200, 50, 100, 0, 250, 100]
        XCTAssertEqual(ImageOps.resize(px, width: 4, height: 2, channels: 1, toWidth: 2, height: 1), [50, 150])
        let flat = [UInt8](repeating: 77, count: 30 * 17 * 3)
        XCTAssertTrue(ImageOps.resize(flat, width: 30, height: 17, channels: 3, toWidth: 11, height: 40).allSatisfy { $0 == 77 })
        let fitted = ImageOps.fitOnWhiteSquare([UInt8](repeating: 0, count: 40 * 20 * 3), width: 40, height: 20, size: 20)
        XCTAssertEqual(fitted[0], 255)  // padding above
        XCTAssertEqual(fitted[(10 * 20 + 10) * 3], 0)  // the picture in the middle
        let rgba: [UInt8] = [255, 0, 0, 0, 0, 0, 255, 255, 100, 100, 100, 128]
        XCTAssertEqual(ImageOps.overWhite(rgba, count: 3), [255, 255, 255, 0, 0, 255, 177, 177, 177])
    }
}

extension DataSourceTests {
    /// The fused composite-and-reduce equals compositing then averaging blocks (naive twin).
    func testOverWhiteReducedMatchesNaiveTwin() {
        var rng = TrainingRNG(seed: 2)
        let w = 11, h = 7, k = 3
        let rgba = (0..<(w * h * 4)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let fast = ImageOps.overWhiteReduced(rgba, width: w, height: h, factor: k)
        XCTAssertEqual(fast.width, 4); XCTAssertEqual(fast.height, 3)
        for oy in 0..<3 { for ox in 0..<4 { for c in 0..<3 {
            var sum = 0.0, n = 0.0
            for y in (oy * k)..<min(h, oy * k + k) { for x in (ox * k)..<min(w, ox * k + k) {
                let p = (y * w + x) * 4, a = Double(rgba[p + 3])
                sum += (Double(rgba[p + c]) * a + 255 * (255 - a)) / 255; n += 1
            } }
            XCTAssertEqual(Double(fast.pixels[(oy * 4 + ox) * 3 + c]), sum / n, accuracy: 0.51)
        } } }
    }
}

extension DataSourceTests {
    /// Incompressible pixels (the encoder's worst case, one pass into a worst-case buffer) round-trip.
    func testPNGEncoderRoundTripsNoise() throws {
        var rng = TrainingRNG(seed: 4)
        for (w, h, c) in [(1, 1, 3), (97, 31, 3), (300, 200, 4), (28, 28, 1)] {
            let px = (0..<(w * h * c)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let png = try PNGEncoder.encode(pixels: px, width: w, height: h, channels: c)
            let im = try ImageDecoder().decode(bytes: png, name: "noise")
            XCTAssertEqual(im.width, w); XCTAssertEqual(im.height, h)
            XCTAssertEqual(im.pixels, px)
        }
    }
}

/// Gzip files for tests without zlib: one member of "stored" (uncompressed) deflate blocks, with
/// the CRC-32 and length trailer, which any gzip reader accepts.
enum StoredGzip {
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    static func make(_ data: [UInt8]) -> [UInt8] {
        func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
        var start = 0
        repeat {
            let n = min(65535, data.count - start)
            let last: UInt8 = start + n == data.count ? 1 : 0
            out += [last, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += data[start..<(start + n)]
            start += n
        } while start < data.count
        return out + le32(crc32(data)) + le32(UInt32(truncatingIfNeeded: data.count))
    }
}
