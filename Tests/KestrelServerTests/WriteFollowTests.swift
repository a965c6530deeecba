import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
import KestrelFiles
@testable import KestrelServer
import KestrelTestSupport
import Logging
import ServiceLifecycle
import XCTest

/// A read-only server beside another writer of its index folder: it takes in the writer's new
/// items and removals (`IndexFollower`, `Catalog.refresh`), and a rebuilt index file, without
/// writing anything; and an untrained index does not leave the service unready after an upload.
final class WriteFollowTests: XCTestCase {
    static let key = "follow-test-key"

    /// The writer (the fixture's catalog, open for writing with a key) and a read-only service
    /// over the same folder, as `kestrel serve` without a key opens it.
    func pair() throws -> (writer: ServerFixture, reader: SearchService) {
        var configuration = ServerConfiguration()
        configuration.apiKey = WriteFollowTests.key
        let writer = try ServerFixture.make(configuration: configuration)
        let catalog = try Catalog.open(writer.directory)
        XCTAssertFalse(catalog.isWritable)
        let reader = try SearchService(catalog: catalog, embedder: writer.service.embedder, configuration: ServerConfiguration())
        XCTAssertFalse(reader.isWritable)
        return (writer, reader)
    }

    static func searchIDs(_ client: some TestClientProtocol, _ text: String) async throws -> [Int] {
        let answer = try await client.execute(uri: "/v1/search", method: .post, body: ByteBuffer(string: #"{"text":"\#(text)","k":1000}"#))
        XCTAssertEqual(answer.status, .ok, answer.text)
        return (answer.json["results"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
    }

    func testAReadOnlyServerTakesInAnotherWritersChanges() async throws {
        let (writer, reader) = try pair()
        let follower = IndexFollower(catalog: reader.catalog, interval: .seconds(3600))
        let indexFile = Catalog.indexPath(writer.catalog.location)
        let upload = UploadStore(service: writer.service)
        let added = try await upload.add(TinyPNG.solid(width: 30, height: 20, red: 10, green: 220, blue: 30), metadata: nil)
        let removed = try XCTUnwrap(try writer.catalog.store.allVectors().ids.first)
        try await upload.remove(id: removed)
        try writer.catalog.saveIndex()  // as `kestrel index add` does at its end: the same build, saved again
        let app = KestrelHTTP.makeApplication(service: reader, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            // Behind the store: not ready, and the new item is not found yet.
            XCTAssertFalse(try reader.isCaughtUp())
            let before = try await client.execute(uri: "/readyz", method: .get)
            XCTAssertEqual(before.status, .serviceUnavailable, before.text)
            let stale = try await Self.searchIDs(client, "a green rectangle")
            XCTAssertFalse(stale.contains(Int(added.id)))
            XCTAssertTrue(reader.catalog.index.contains(Int64(removed)))

            let stamp = try FileSystem.status(indexFile)
            let sequence = try writer.catalog.store.lastSequence
            let step = await follower.step()
            // The file was the same build saved again: caught up from the log, not reloaded.
            guard case .caughtUp? = step else { return XCTFail("\(String(describing: step))") }
            // Nothing written: neither the store nor the index file moved.
            XCTAssertEqual(try FileSystem.status(indexFile), stamp)
            XCTAssertEqual(try writer.catalog.store.lastSequence, sequence)

            XCTAssertTrue(try reader.isCaughtUp())
            let after = try await client.execute(uri: "/readyz", method: .get)
            XCTAssertEqual(after.status, .ok, after.text)
            let fresh = try await Self.searchIDs(client, "a green rectangle")
            XCTAssertTrue(fresh.contains(Int(added.id)), "\(fresh)")
            XCTAssertFalse(fresh.contains(Int(removed)))
            XCTAssertFalse(reader.catalog.index.contains(Int64(removed)))
            XCTAssertEqual(reader.catalog.index.count, try writer.catalog.store.count)
            XCTAssertEqual(fresh.count, try writer.catalog.store.count)
            let again = await follower.step()
            XCTAssertEqual(again, .unchanged)
        }
    }

    /// After a rebuild by the writer (another index type), the reader loads the new file and
    /// swaps it in; a search that holds the old index object can still finish on it.
    func testARebuiltIndexFileIsSwappedIn() async throws {
        let (writer, reader) = try pair()
        let follower = IndexFollower(catalog: reader.catalog, interval: .seconds(3600))
        let old = reader.catalog.index
        let report = try writer.catalog.rebuildIndex(spec: "hnsw")
        XCTAssertNotEqual(report.factory, old.factory)
        // An upload after the rebuild: in the store's log, not in the rebuilt file.
        let added = try await UploadStore(service: writer.service).add(TinyPNG.solid(width: 22, height: 22, red: 200, green: 0, blue: 200),
                                                                        metadata: nil)
        let step = await follower.step()
        XCTAssertEqual(step, .reloaded(factory: report.factory))
        let swapped = reader.catalog.index
        XCTAssertFalse(swapped === old)
        XCTAssertEqual(swapped.factory, report.factory)
        XCTAssertEqual(reader.catalog.indexSpec, "hnsw")
        XCTAssertTrue(swapped.contains(Int64(added.id)))
        XCTAssertTrue(try reader.isCaughtUp())
        XCTAssertEqual(swapped.count, try writer.catalog.store.count)
        // The old object still answers (a search that started before the swap).
        let vector = try XCTUnwrap(try writer.catalog.store.vector(id: added.id))
        XCTAssertEqual(try old.search(vector, count: 1, k: 1).first?.count, 1)
        try await KestrelHTTP.makeApplication(service: reader, logger: Logger(label: "test")).test(.router) { client in
            let info = try await client.execute(uri: "/v1/info", method: .get)
            XCTAssertEqual((info.json["index"] as? [String: Any])?["factory"] as? String, report.factory, info.text)
            let ids = try await Self.searchIDs(client, "a purple square")
            XCTAssertTrue(ids.contains(Int(added.id)))
        }
        let unchanged = await follower.step()
        XCTAssertEqual(unchanged, .unchanged)
    }

    /// The follower as a service: started with the server's other services, it catches up by
    /// itself within a bounded wait, and stops at graceful shutdown.
    func testTheFollowerRunsUntilShutdown() async throws {
        let (writer, reader) = try pair()
        let follower = IndexFollower(catalog: reader.catalog, interval: .milliseconds(100))
        let group = ServiceGroup(configuration: .init(services: [follower], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        let added = try await UploadStore(service: writer.service).add(TinyPNG.solid(width: 19, height: 23, red: 1, green: 90, blue: 240),
                                                                        metadata: nil)
        let deadline = ContinuousClock.now + .seconds(60)
        while !reader.catalog.index.contains(Int64(added.id)), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertTrue(reader.catalog.index.contains(Int64(added.id)))
        XCTAssertTrue(try reader.isCaughtUp())
        await group.triggerGracefulShutdown()
        try await running.value
    }

    /// An index that is not trained (an approximate type saved before it had anything to train
    /// on) cannot take the first upload's vector: it is built from the store instead, so the
    /// service is caught up (`/readyz` 200) and the item found.
    func testAnUntrainedIndexIsBuiltByTheFirstUpload() async throws {
        guard let model = DefaultModel.locate() else { throw FixtureError("the default model is missing from this checkout") }
        let dir = Fixtures.temporaryDirectory("kestrel-untrained")
        let embedder = try Embedder(modelDirectory: model)
        let identity = try ModelFingerprint.identity(of: embedder.model)
        do {
            let made = try Catalog.openForWriting(dir, identity: identity, modelPath: model.path, orientation: .exif,
                                                  precision: embedder.model.precision,
                                                  jpegDecoding: embedder.preprocessor.decoder.jpegDecoding)
            let untrained = try VectorIndex.create(dimension: identity.dimension, factory: "IVF4,Flat")
            XCTAssertFalse(untrained.isTrained)
            untrained.storeID = made.store.storeID
            untrained.coveredSequence = try made.store.lastSequence
            untrained.storeLogChain = try made.store.logChain(at: untrained.coveredSequence)
            try untrained.save(to: Catalog.indexPath(made.location))
        }
        let catalog = try Catalog.open(dir, writable: true)
        XCTAssertFalse(catalog.index.isTrained)
        var configuration = ServerConfiguration()
        configuration.apiKey = WriteFollowTests.key
        let service = try SearchService(catalog: catalog,
                                        embedder: try SearchService.makeEmbedder(modelDirectory: model, catalog: catalog, limits: configuration.limits),
                                        configuration: configuration)
        try await KestrelHTTP.makeApplication(service: service, logger: Logger(label: "test")).test(.router) { client in
            let answer = try await client.upload(TinyPNG.solid(width: 26, height: 26, red: 240, green: 10, blue: 10), key: WriteFollowTests.key)
            XCTAssertEqual(answer.status, .created, answer.text)
            let id = try XCTUnwrap(answer.json["id"] as? Int)
            XCTAssertTrue(catalog.index.isTrained)
            XCTAssertTrue(catalog.index.contains(Int64(id)))
            let ready = try await client.execute(uri: "/readyz", method: .get)
            XCTAssertEqual(ready.status, .ok, ready.text)
            let ids = try await Self.searchIDs(client, "red")
            XCTAssertEqual(ids, [id])
        }
    }
}
