import Foundation
import KestrelEngine
import KestrelTestSupport
import XCTest

/// An index records the precision its image vectors were made at (`kestrel.precision`) and
/// refuses to add vectors made at another one, with a hint; queries may use any precision.
final class PrecisionRecordTests: XCTestCase {
    let identity = ModelIdentity(name: "test", fingerprint: "f", dimension: 4)

    func open(_ dir: URL, _ precision: Precision) throws -> Catalog {
        try Catalog.openForWriting(dir, identity: identity, modelPath: "/m", orientation: .exif, precision: precision)
    }

    func testCatalogRecordsItsPrecisionAndRefusesAnother() throws {
        for (made, other) in [(Precision.fp32, Precision.int8), (.bf16, .fp32), (.int8, .bf16)] {
            let dir = Fixtures.temporaryDirectory("kestrel-engine").appendingPathComponent("ix")
            do {
                let catalog = try open(dir, made)
                XCTAssertEqual(catalog.precision, made)
                XCTAssertNoThrow(try catalog.requirePrecision(made))
                try add(catalog, [[1, 0, 0, 0]], from: 0)
                XCTAssertThrowsError(try catalog.requirePrecision(other)) { error in
                    let text = "\(error)"
                    XCTAssertTrue(text.contains("--precision \(made.rawValue)"), text)
                    XCTAssertTrue(text.contains("HINT: pass --precision \(made.rawValue)"), text)
                }
            }
            XCTAssertThrowsError(try open(dir, other)) { error in
                guard case EngineError.precisionMismatch(_, let recorded, let requested) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(recorded, made)
                XCTAssertEqual(requested, other)
            }
            XCTAssertEqual(try Catalog.open(dir).precision, made, "the record survives reopening")
            // A query vector (of any precision) searches the index: the catalog does not ask.
            XCTAssertEqual(try Catalog.open(dir).search(vector: [1, 0, 0, 0], options: SearchOptions(k: 1)).count, 1)
        }
    }

    /// A store made before the precision was recorded holds fp32 vectors.
    func testAStoreWithoutTheRecordHoldsFP32Vectors() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-engine").appendingPathComponent("ix")
        do {
            let catalog = try open(dir, .fp32)
            try add(catalog, [[1, 0, 0, 0]], from: 0)
            try catalog.store.setMeta(key: "kestrel.precision", value: nil)
        }
        XCTAssertEqual(try Catalog.open(dir).precision, .fp32)
        XCTAssertNoThrow(try open(dir, .fp32))
        XCTAssertThrowsError(try open(dir, .int8))
    }
}

/// A store that holds vectors but no `kestrel.jpeg_decode` record was made before `--jpeg-decode`
/// existed, when every JPEG was decoded in full: it counts as `exact`, so fast-decoded vectors are
/// refused rather than mixed in silently (found by trying an index made by an older build).
final class JPEGDecodingRecordTests: XCTestCase {
    func testAStoreWithItemsButNoRecordHoldsExactVectors() throws {
        let identity = ModelIdentity(name: "test", fingerprint: "f", dimension: 4)
        let dir = Fixtures.temporaryDirectory("kestrel-engine").appendingPathComponent("ix")
        do {
            let catalog = try Catalog.openForWriting(dir, identity: identity, modelPath: "/m", orientation: .exif)
            XCTAssertNil(catalog.jpegDecoding, "empty, no record: either setting may join")
            try add(catalog, [[1, 0, 0, 0]], from: 0)
            try catalog.store.setMeta(key: "kestrel.jpeg_decode", value: nil)
        }
        let catalog = try Catalog.open(dir)
        XCTAssertEqual(catalog.jpegDecoding, .exact)
        XCTAssertNoThrow(try catalog.requireJPEGDecoding(.exact))
        XCTAssertThrowsError(try catalog.requireJPEGDecoding(.fast)) { error in
            guard case EngineError.jpegDecodingMismatch(_, let recorded, let requested) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(recorded, .exact)
            XCTAssertEqual(requested, .fast)
        }
    }
}
