import Foundation
import KestrelStore
import KestrelFiles
import KestrelTestSupport
import XCTest

let testModel = ModelIdentity(name: "tiny-clip", fingerprint: "sha256:1111", dimension: 8)

/// A fake file: random bytes for `path`, its hash and a random embedding.
struct FakeFile {
    var bytes: [UInt8]
    var embedding: [Float]

    init(_ rng: inout SeededRandom, dimension: Int = testModel.dimension) {
        bytes = (0..<64).map { _ in UInt8.random(in: 0...255, using: &rng) }
        embedding = rng.floats(dimension)
    }

    var hash: String { SHA256.hex(SHA256.hash(bytes)) }

    func item(_ path: FilePathBytes, mtime: Int64 = 1_700_000_000_000_000_000, metadata: String? = nil) -> NewItem {
        NewItem(
            path: path, contentHash: hash, fileSize: UInt64(bytes.count), mtimeNanoseconds: mtime, width: 640,
            height: 480, embedding: embedding, metadata: metadata)
    }
}

extension XCTestCase {
    /// A new store in a fresh temporary folder, deleted when the test ends.
    func makeStore(
        _ identity: ModelIdentity = testModel, storage: VectorStorage = .float32, mapSize: Int = Store.defaultMapSize
    ) throws -> (Store, URL) {
        let url = temporaryFolder().appendingPathComponent("catalog")
        return (try Store.create(at: url, identity: identity, vectorStorage: storage, initialMapSize: mapSize), url)
    }

    /// A fresh temporary folder, deleted when the test ends.
    func temporaryFolder() -> URL {
        let dir = Fixtures.temporaryDirectory("kestrel-store")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }
}

/// Asserts that `body` throws a `StoreError` and returns it.
func storeError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> StoreError? {
    do {
        try body()
        XCTFail("expected a StoreError", file: file, line: line)
    } catch let e as StoreError {
        return e
    } catch {
        XCTFail("expected a StoreError, got \(error)", file: file, line: line)
    }
    return nil
}

/// A counter that threads may bump.
final class LockedCount: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}
