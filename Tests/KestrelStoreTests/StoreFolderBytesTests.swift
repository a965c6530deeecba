import Foundation
import KestrelFiles
import KestrelStore
import KestrelTestSupport
import XCTest

/// Kind 1 of issue 6 for the store's own folder: its name is bytes too (a Latin-1 folder of an
/// old archive), used as given by create, open, the creation leftovers clean-up and messages.
final class StoreFolderBytesTests: XCTestCase {
    func testKind1_StoreInAFolderNamedInLatin1() throws {
        let base = temporaryFolder()
        let folder = FilePathBytes(RawPaths.join(base, [0x63, 0x61, 0x66, 0xE9]))  // "caf\xe9"
        var rng = SeededRandom(seed: 11)
        let file = FakeFile(&rng)
        do {
            let store = try Store.create(at: folder, identity: testModel)
            XCTAssertEqual(try store.add([file.item("/p/a.png")]), [.added(id: 1)])
            XCTAssertEqual(store.location, folder)
        }
        XCTAssertEqual(RawPaths.names(in: Array(base.path.utf8)), [[0x63, 0x61, 0x66, 0xE9]], "no U+FFFD twin, no leftover")
        let again = try Store.open(at: folder, readOnly: true)
        XCTAssertEqual(try again.paths(), ["/p/a.png"])
        again.close()
        // A second create names the folder escaped.
        XCTAssertThrowsError(try Store.create(at: folder, identity: testModel)) { error in
            XCTAssertTrue("\(error)".contains(base.path + "/caf\\xe9"), "\(error)")
        }
        // A creation killed half-way is cleaned up under the same bytes.
        let leftover = FilePathBytes(RawPaths.join(base, Array(".caf".utf8) + [0xE9] + Array(".creating-0011223344556677".utf8)))
        try RawPaths.makeDirectory(leftover.bytes)
        try RawPaths.write(Data([1, 2, 3]), to: leftover.appending(Array("data.mdb".utf8)).bytes)
        Store.removeUnfinishedCreations(of: folder)
        XCTAssertEqual(RawPaths.names(in: Array(base.path.utf8)), [[0x63, 0x61, 0x66, 0xE9]])
    }
}
