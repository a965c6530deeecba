import Foundation
import KestrelEngine
import KestrelTestSupport
import XCTest

/// Kind 11 of issue 6: an index records the `--orientation` setting that made its image vectors
/// and refuses vectors made with the other one (they differ for every rotated photo).
final class OrientationRecordTests: XCTestCase {
    let identity = ModelIdentity(name: "test", fingerprint: "f", dimension: 4)

    func open(_ dir: URL, _ orientation: OrientationHandling) throws -> Catalog {
        try Catalog.openForWriting(dir, identity: identity, modelPath: "/m", orientation: orientation)
    }

    func testKind11_catalogRecordsItsOrientationAndRefusesTheOther() throws {
        for (made, other) in [(OrientationHandling.exif, OrientationHandling.ignore), (.ignore, .exif)] {
            let dir = Fixtures.temporaryDirectory("kestrel-engine").appendingPathComponent("ix")
            do {  // each catalog is closed (deinit) at the end of its scope
                let catalog = try open(dir, made)
                XCTAssertEqual(catalog.orientation, made)
                XCTAssertNoThrow(try catalog.requireOrientation(made))
                XCTAssertThrowsError(try catalog.requireOrientation(other)) { error in
                    let text = "\(error)"
                    XCTAssertTrue(text.contains("--orientation \(made.rawValue), this run uses --orientation \(other.rawValue)"), text)
                    XCTAssertTrue(text.contains("pass --orientation \(made.rawValue)"), text)
                }
            }
            XCTAssertThrowsError(try open(dir, other)) { error in
                guard case EngineError.orientationMismatch(_, let recorded, let requested) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(recorded, made)
                XCTAssertEqual(requested, other)
            }
            do { _ = try open(dir, made) }
            XCTAssertEqual(try Catalog.open(dir).orientation, made, "the record survives reopening")
        }
    }

    /// A store made before the setting was recorded holds vectors of images used as stored.
    func testKind11_anIndexWithoutTheRecordCountsAsIgnore() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-engine").appendingPathComponent("ix")
        do {
            let catalog = try open(dir, .exif)
            _ = try catalog.store.add([NewItem(path: "/p/a.png", contentHash: String(repeating: "ab", count: 32), fileSize: 1,
                                               mtimeNanoseconds: 0, width: 1, height: 1, embedding: [1, 0, 0, 0])])
            try catalog.store.setMeta(key: "kestrel.orientation", value: nil)  // as an older Kestrel left it
        }
        XCTAssertEqual(try Catalog.open(dir).orientation, .ignore)
        XCTAssertThrowsError(try open(dir, .exif))
        XCTAssertNoThrow(try open(dir, .ignore))
    }

    /// A store without the record and without items (a run killed between creating the store
    /// and recording the setting) has no vectors to disagree with: the next add records its own.
    func testKind11_anEmptyStoreWithoutTheRecordTakesTheNextSetting() throws {
        let dir = Fixtures.temporaryDirectory("kestrel-engine").appendingPathComponent("ix")
        do {
            let catalog = try open(dir, .ignore)
            try catalog.store.setMeta(key: "kestrel.orientation", value: nil)
        }
        do { XCTAssertEqual(try open(dir, .exif).orientation, .exif) }
        XCTAssertThrowsError(try open(dir, .ignore))
    }
}
