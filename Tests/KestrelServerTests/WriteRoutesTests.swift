import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KestrelEngine
@testable import KestrelServer
import KestrelTestSupport
import Logging
import ServiceLifecycle
import XCTest

/// `POST /v1/items` and `DELETE /v1/items/{id}` in-process, with the key: what is stored, where
/// the file goes, what is left behind on a refusal, and that searches do not wait for a write.
final class WriteRoutesTests: XCTestCase {
    static let key = "test-key-0123456789"

    func writableFixture() throws -> ServerFixture {
        var configuration = ServerConfiguration()
        configuration.apiKey = WriteRoutesTests.key
        return try ServerFixture.make(configuration: configuration)
    }

    func testUploadIsStoredDurablyAndSearchFindsIt() async throws {
        let fixture = try writableFixture()
        let before = try fixture.catalog.store.count
        let png = TinyPNG.solid(width: 40, height: 30, red: 250, green: 20, blue: 20)
        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            let answer = try await client.upload(png, key: WriteRoutesTests.key)
            XCTAssertEqual(answer.status, .created, answer.text)
            let id = try XCTUnwrap(answer.json["id"] as? Int)
            XCTAssertEqual(answer.json["duplicate"] as? Bool, false)
            let hash = SHA256.hex(SHA256.hash(png))
            let expected = fixture.directory.appendingPathComponent("uploads/\(hash).png").path
            XCTAssertEqual(answer.json["path"] as? String, expected)
            // The file holds the uploaded bytes, under a name made from them only; no temporary file is left.
            XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: expected))), png)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: fixture.directory.appendingPathComponent("uploads").path),
                           ["\(hash).png"])
            // Stored: the item, its size, its path; and the index holds it.
            let item = try XCTUnwrap(try fixture.catalog.store.item(id: UInt64(id)))
            XCTAssertEqual(item.contentHash, hash)
            XCTAssertEqual([item.width, item.height], [40, 30])
            XCTAssertEqual(item.paths.map(\.lossyString), [expected])
            XCTAssertEqual(try fixture.catalog.store.count, before + 1)
            XCTAssertTrue(fixture.catalog.index.contains(Int64(id)))
            XCTAssertTrue(try fixture.service.isCaughtUp())
            // A search over every item through the API returns it.
            let search = try await client.execute(uri: "/v1/search", method: .post,
                                                  body: ByteBuffer(string: #"{"text":"a red square","k":100}"#))
            XCTAssertEqual(search.status, .ok)
            let ids = try XCTUnwrap(search.json["results"] as? [[String: Any]]).compactMap { $0["id"] as? Int }
            XCTAssertTrue(ids.contains(id), "\(ids)")
            XCTAssertEqual(ids.count, before + 1)
            // Its own vector finds it first.
            let vector = try XCTUnwrap(try fixture.catalog.store.vector(id: UInt64(id)))
            XCTAssertEqual(try fixture.catalog.search(vector: vector, options: SearchOptions(k: 1)).first?.id, UInt64(id))
        }
    }

    func testSameContentTwiceAnswersTheExistingItem() async throws {
        let fixture = try writableFixture()
        let png = TinyPNG.solid(width: 20, height: 20, red: 0, green: 0, blue: 200)
        let sample = try [UInt8](Data(contentsOf: Fixtures.repoRoot.appendingPathComponent("samples/images/circles/red_circle.png")))
        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            let first = try await client.upload(png, key: WriteRoutesTests.key)
            XCTAssertEqual(first.status, .created, first.text)
            let count = try fixture.catalog.store.count
            let second = try await client.upload(png, key: WriteRoutesTests.key)
            XCTAssertEqual(second.status, .created, second.text)
            XCTAssertEqual(second.json["id"] as? Int, first.json["id"] as? Int)
            XCTAssertEqual(second.json["duplicate"] as? Bool, true)
            XCTAssertEqual(second.json["path"] as? String, first.json["path"] as? String)
            XCTAssertEqual(try fixture.catalog.store.count, count)
            // Content ingested from a folder: its item and path, and no upload file.
            let ingested = try XCTUnwrap(try fixture.catalog.store.lookup(contentHash: SHA256.hex(SHA256.hash(sample))))
            let third = try await client.upload(sample, key: WriteRoutesTests.key)
            XCTAssertEqual(third.json["id"] as? Int, Int(ingested.id))
            XCTAssertEqual(third.json["duplicate"] as? Bool, true)
            XCTAssertEqual(third.json["path"] as? String, ingested.paths[0].lossyString)
            XCTAssertEqual(try fixture.catalog.store.count, count)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: fixture.directory.appendingPathComponent("uploads").path).count, 1)
        }
    }

    func testMultipartNameAndMetadataAreStored() async throws {
        let fixture = try writableFixture()
        let png = TinyPNG.solid(width: 16, height: 24, red: 10, green: 200, blue: 10)
        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            let answer = try await client.uploadMultipart(png, fields: ["name": "../../etc/passwd", "metadata": #"{"album": "trip", "n": 3}"#],
                                                          key: WriteRoutesTests.key)
            XCTAssertEqual(answer.status, .created, answer.text)
            let id = try XCTUnwrap(answer.json["id"] as? Int)
            // The name is display text only: the file is named by its content.
            XCTAssertEqual((answer.json["path"] as? String)?.hasSuffix("/uploads/\(SHA256.hex(SHA256.hash(png))).png"), true)
            let item = try XCTUnwrap(try fixture.catalog.store.item(id: UInt64(id)))
            let metadata = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(item.metadata).utf8)) as? [String: Any])
            XCTAssertEqual(metadata["album"] as? String, "trip")
            XCTAssertEqual(metadata["n"] as? Int, 3)
            XCTAssertEqual(metadata["name"] as? String, "../../etc/passwd")
            XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.directory.appendingPathComponent("etc").path))
        }
    }

    func testMetadataThatIsNotAnObjectIs400AndStoresNothing() async throws {
        let fixture = try writableFixture()
        let count = try fixture.catalog.store.count
        let png = TinyPNG.solid(width: 16, height: 16, red: 1, green: 2, blue: 3)
        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            for bad in ["[1, 2]", "\"text\"", "42", "{not json", ""] {
                let answer = try await client.uploadMultipart(png, fields: ["metadata": bad], key: WriteRoutesTests.key)
                XCTAssertEqual(answer.status, .badRequest, bad)
                XCTAssertEqual(answer.errorCode, "bad_request", bad)
                XCTAssertTrue(answer.errorMessage.contains("metadata"), answer.errorMessage)
            }
            // Metadata is read by every filtered search that meets the item: bounded (a tryout stored 20 MB).
            let huge = "{\"a\": \"" + String(repeating: "x", count: UploadStore.maxMetadataBytes) + "\"}"
            let tooLarge = try await client.uploadMultipart(png, fields: ["metadata": huge], key: WriteRoutesTests.key)
            XCTAssertEqual(tooLarge.status, .badRequest)
            XCTAssertEqual(tooLarge.errorCode, "limit_exceeded")
            XCTAssertTrue(tooLarge.errorMessage.contains("metadata"), tooLarge.errorMessage)
            let control = try await client.uploadMultipart(png, fields: ["name": "a\u{7}b"], key: WriteRoutesTests.key)
            XCTAssertEqual(control.errorCode, "bad_request")
            XCTAssertTrue(control.errorMessage.contains("name"), control.errorMessage)
        }
        XCTAssertEqual(try fixture.catalog.store.count, count)
        XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.directory.appendingPathComponent("uploads").path))
    }

    /// Metadata is read as search filters read it: numbers a 64-bit float does not hold exactly
    /// are refused (they would be stored as another value); what is stored, a filter finds.
    func testMetadataNumbersMustBeExactAndStoredMetadataMatchesFilters() async throws {
        let fixture = try writableFixture()
        let count = try fixture.catalog.store.count
        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            let png = TinyPNG.solid(width: 17, height: 19, red: 3, green: 140, blue: 90)
            for bad in [#"{"n": 1e400}"#, #"{"n": -1e400}"#, #"{"id": 9007199254740993}"#, #"{"a": [1, {"b": 123456789012345678901234}]}"#] {
                let answer = try await client.uploadMultipart(png, fields: ["metadata": bad], key: WriteRoutesTests.key)
                XCTAssertEqual(answer.status, .badRequest, "\(bad): \(answer.text)")
                XCTAssertEqual(answer.errorCode, "bad_request")
                XCTAssertTrue(answer.errorMessage.contains("metadata"), answer.errorMessage)
            }
            XCTAssertEqual(try fixture.catalog.store.count, count)
            // Exact numbers (2^53 itself, fractions, exponents) and number-like text in strings are fine.
            let good = #"{"n": 9007199254740992, "x": 0.25, "e": 2.5e3, "s": "1e400 \"9007199254740993\"", "neg": -7}"#
            let added = try await client.uploadMultipart(png, fields: ["metadata": good], key: WriteRoutesTests.key)
            XCTAssertEqual(added.status, .created, added.text)
            let id = try XCTUnwrap(added.json["id"] as? Int)
            for filter in [#"{"n": 9007199254740992}"#, #"{"x": 0.25, "neg": -7}"#, #"{"e": 2500}"#, #"{"s": "1e400 \"9007199254740993\""}"#] {
                let search = try await client.execute(uri: "/v1/search", method: .post,
                                                      body: ByteBuffer(string: #"{"text":"green","k":5,"filters":\#(filter)}"#))
                XCTAssertEqual(search.status, .ok, search.text)
                let ids = (search.json["results"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
                XCTAssertEqual(ids, [id], "\(filter): \(search.text)")
            }
        }
    }

    /// `DELETE /v1/items/{id}` shares its pattern with `GET /v1/items/{id}`: another method on
    /// it is 405 naming both.
    func testItemRouteMethodsAreListedTogether() async throws {
        let fixture = try writableFixture()
        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            let answer = try await client.send(.patch, "/v1/items/1", key: WriteRoutesTests.key)
            XCTAssertEqual(answer.status, .methodNotAllowed, answer.text)
            XCTAssertEqual(answer.headers[.allow], "DELETE, GET")
        }
    }

    func testBadImageIs400AndLeavesNoFile() async throws {
        let fixture = try writableFixture()
        let count = try fixture.catalog.store.count
        let sequence = try fixture.catalog.store.lastSequence
        let png = TinyPNG.solid(width: 64, height: 64, red: 9, green: 9, blue: 9)
        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            let cases: [(String, [UInt8], String)] = [
                ("truncated PNG", Array(png.prefix(png.count / 2)), "bad_image"),
                ("not an image", Array("hello, world".utf8), "bad_image"),
                ("PNG signature only", Array(png.prefix(8)), "bad_image"),
                ("JPEG marker only", [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10], "bad_image"),
                ("100000x100000 header", TinyPNG.headerOnly(width: 100_000, height: 100_000), "limit_exceeded"),
            ]
            for (what, bytes, code) in cases {
                let answer = try await client.upload(bytes, key: WriteRoutesTests.key)
                XCTAssertEqual(answer.status, .badRequest, what)
                XCTAssertEqual(answer.errorCode, code, "\(what): \(answer.text)")
            }
            // The repo's broken-image fixtures (a BMP or GIF named .jpg, a bomb, text, truncated...).
            let folder = Fixtures.repoRoot.appendingPathComponent("Tests/Fixtures/images")
            let bad = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("bad_") }.sorted()
            XCTAssertGreaterThan(bad.count, 4)
            for name in bad {
                let bytes = try [UInt8](Data(contentsOf: folder.appendingPathComponent(name)))
                let answer = try await client.upload(bytes, key: WriteRoutesTests.key)
                XCTAssertEqual(answer.status, .badRequest, "\(name): \(answer.text)")
                XCTAssertTrue(["bad_image", "limit_exceeded", "empty_image"].contains(answer.errorCode ?? ""), "\(name): \(answer.text)")
            }
        }
        XCTAssertEqual(try fixture.catalog.store.count, count)
        XCTAssertEqual(try fixture.catalog.store.lastSequence, sequence)
        let uploads = fixture.directory.appendingPathComponent("uploads").path
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: uploads)) ?? [], [])
    }

    func testDeleteRemovesTheItemAndItsUploadThenAnswers404() async throws {
        let fixture = try writableFixture()
        let png = TinyPNG.solid(width: 33, height: 17, red: 200, green: 100, blue: 0)
        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            let added = try await client.upload(png, key: WriteRoutesTests.key)
            let id = try XCTUnwrap(added.json["id"] as? Int)
            let file = try XCTUnwrap(added.json["path"] as? String)
            let count = try fixture.catalog.store.count
            let removed = try await client.send(.delete, "/v1/items/\(id)", key: WriteRoutesTests.key)
            XCTAssertEqual(removed.status, .ok, removed.text)
            XCTAssertEqual(removed.json["id"] as? Int, id)
            XCTAssertEqual(removed.json["removed"] as? Bool, true)
            XCTAssertNil(try fixture.catalog.store.item(id: UInt64(id)))
            XCTAssertFalse(fixture.catalog.index.contains(Int64(id)))
            XCTAssertEqual(try fixture.catalog.store.count, count - 1)
            XCTAssertFalse(FileManager.default.fileExists(atPath: file))
            XCTAssertTrue(try fixture.service.isCaughtUp())
            let again = try await client.send(.delete, "/v1/items/\(id)", key: WriteRoutesTests.key)
            XCTAssertEqual(again.status, .notFound)
            XCTAssertEqual(again.errorCode, "not_found")
            let search = try await client.execute(uri: "/v1/search", method: .post, body: ByteBuffer(string: #"{"text":"orange","k":100}"#))
            let ids = try XCTUnwrap(search.json["results"] as? [[String: Any]]).compactMap { $0["id"] as? Int }
            XCTAssertFalse(ids.contains(id))
            // Uploaded again: a new item (ids are never reused), the file back in place.
            let back = try await client.upload(png, key: WriteRoutesTests.key)
            XCTAssertEqual(back.json["duplicate"] as? Bool, false)
            XCTAssertGreaterThan(try XCTUnwrap(back.json["id"] as? Int), id)
            XCTAssertTrue(FileManager.default.fileExists(atPath: file))
        }
    }

    func testDeletingAnIngestedItemNeverTouchesItsFile() async throws {
        let fixture = try writableFixture()
        let sample = Fixtures.repoRoot.appendingPathComponent("samples/images/squares/blue_square.jpg")
        let before = try Data(contentsOf: sample)
        let record = try XCTUnwrap(try fixture.catalog.store.lookup(path: FilePathBytes(sample.path)))
        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            let removed = try await client.send(.delete, "/v1/items/\(record.id)", key: WriteRoutesTests.key)
            XCTAssertEqual(removed.status, .ok, removed.text)
        }
        XCTAssertNil(try fixture.catalog.store.item(id: record.id))
        XCTAssertEqual(try Data(contentsOf: sample), before)
    }

    func testIdsThatAreNotDecimalUInt64AreBadID() async throws {
        let fixture = try writableFixture()
        let count = try fixture.catalog.store.count
        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            for bad in ["-1", "1e3", "18446744073709551616", "99999999999999999999999", "..%2Fx", "abc", "%2E%2E", "+5", "0x10", "1.0"] {
                let answer = try await client.send(.delete, "/v1/items/\(bad)", key: WriteRoutesTests.key)
                XCTAssertEqual(answer.status, .badRequest, bad)
                XCTAssertEqual(answer.errorCode, "bad_id", "\(bad): \(answer.text)")
            }
            // A path that climbs out is no route at all, never a file.
            let climb = try await client.send(.delete, "/v1/items/../x", key: WriteRoutesTests.key)
            XCTAssertTrue((400..<500).contains(climb.status.code), "\(climb.status)")
            // The largest id is an id (of no item).
            let largest = try await client.send(.delete, "/v1/items/18446744073709551615", key: WriteRoutesTests.key)
            XCTAssertEqual(largest.status, .notFound)
        }
        XCTAssertEqual(try fixture.catalog.store.count, count)
    }

    /// Concurrent writes take turns: the same bytes sent six times at once make one item (one
    /// answer says new, five say duplicate, all with its id); distinct uploads and removals sent
    /// together leave the store and the index holding the same items.
    func testConcurrentWritesTakeTurns() async throws {
        let fixture = try writableFixture()
        let before = try fixture.catalog.store.count
        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            let same = TinyPNG.solid(width: 21, height: 13, red: 77, green: 7, blue: 177)
            let answers = try await withThrowingTaskGroup(of: TestAnswer.self) { group in
                for _ in 0..<6 { group.addTask { try await client.upload(same, key: WriteRoutesTests.key) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            XCTAssertEqual(answers.map(\.status), Array(repeating: .created, count: 6))
            XCTAssertEqual(Set(answers.compactMap { $0.json["id"] as? Int }).count, 1)
            XCTAssertEqual(answers.filter { $0.json["duplicate"] as? Bool == false }.count, 1)

            let removable = try fixture.catalog.store.allVectors().ids.prefix(4)
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for i in 0..<8 {
                    group.addTask {
                        try await client.upload(TinyPNG.solid(width: 10 + i, height: 11, red: UInt8(i * 30), green: 1, blue: 2),
                                                key: WriteRoutesTests.key).status
                    }
                }
                for id in removable { group.addTask { try await client.send(.delete, "/v1/items/\(id)", key: WriteRoutesTests.key).status } }
                for try await status in group { XCTAssertTrue(status == .created || status == .ok, "\(status)") }
            }
        }
        XCTAssertEqual(try fixture.catalog.store.count, before + 1 + 8 - 4)
        XCTAssertEqual(fixture.catalog.index.count, try fixture.catalog.store.count)
        XCTAssertTrue(try fixture.service.isCaughtUp())
    }

    /// A write held mid-way (file written, store transaction not yet run) does not hold up
    /// searches; the next write waits for it; once it is let go it completes and is found.
    func testSearchesAnswerWhileAWriteIsInProgress() async throws {
        let fixture = try writableFixture()
        let reached = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let writer = UploadStore(service: fixture.service, beforeStore: { reached.signal(); release.wait() })
        let png = TinyPNG.solid(width: 24, height: 24, red: 255, green: 255, blue: 0)
        let other = TinyPNG.solid(width: 25, height: 24, red: 0, green: 255, blue: 255)
        let slow = Task { try await writer.add(png, metadata: nil) }
        await withCheckedContinuation { c in DispatchQueue.global().async { reached.wait(); c.resume() } }
        let second = Task { try await writer.add(other, metadata: nil) }

        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for query in ["a red circle", "blue", "green triangle", "yellow", "a square", "shapes", "red", "circle"] {
                    group.addTask {
                        try await client.execute(uri: "/v1/search", method: .post,
                                                 body: ByteBuffer(string: #"{"text":"\#(query)","k":5}"#)).status
                    }
                }
                for try await status in group { XCTAssertEqual(status, .ok) }
            }
        }
        // Every search answered while the first write is held; the second is queued behind it.
        XCTAssertNil(try fixture.catalog.store.lookup(contentHash: SHA256.hex(SHA256.hash(png))))
        XCTAssertNil(try fixture.catalog.store.lookup(contentHash: SHA256.hex(SHA256.hash(other))))
        release.signal()
        let added = try await slow.value
        release.signal()  // the second write passes the same point
        let addedSecond = try await second.value
        XCTAssertFalse(added.duplicate)
        XCTAssertGreaterThan(addedSecond.id, added.id)
        let vector = try XCTUnwrap(try fixture.catalog.store.vector(id: added.id))
        XCTAssertEqual(try fixture.catalog.search(vector: vector, options: SearchOptions(k: 1)).first?.id, added.id)
    }

    /// The index saver writes the index file after changes, and a catalog opened afresh (as
    /// after a crash before any save) catches up from the store's log.
    func testIndexSaverSavesChangesAndReopenCatchesUp() async throws {
        let fixture = try writableFixture()
        let saver = IndexSaver(catalog: fixture.catalog, interval: .seconds(1))
        let nothing = await saver.saveIfChanged()
        XCTAssertFalse(nothing)
        let writer = UploadStore(service: fixture.service)
        let added = try await writer.add(TinyPNG.solid(width: 30, height: 30, red: 5, green: 50, blue: 150), metadata: nil)
        XCTAssertTrue(saver.hasUnsavedChanges)
        let saved = await saver.saveIfChanged()
        XCTAssertTrue(saved)
        XCTAssertFalse(saver.hasUnsavedChanges)
        let file = try VectorIndex.load(from: Catalog.indexURL(fixture.directory))
        XCTAssertTrue(file.contains(Int64(added.id)))
        XCTAssertEqual(file.coveredSequence, try fixture.catalog.store.lastSequence)
        // Not saved: a second upload lives in the store and the in-memory index only.
        let unsaved = try await writer.add(TinyPNG.solid(width: 31, height: 30, red: 5, green: 50, blue: 150), metadata: nil)
        let stale = try VectorIndex.load(from: Catalog.indexURL(fixture.directory))
        XCTAssertFalse(stale.contains(Int64(unsaved.id)))
        let reopened = try Catalog.open(fixture.directory)
        XCTAssertTrue(reopened.index.contains(Int64(unsaved.id)))
        XCTAssertEqual(reopened.index.count, try reopened.store.count)
    }

    /// The saver does not rewrite the index on every change: with its interval not yet passed,
    /// an upload lives in the store and in memory only; graceful shutdown saves it.
    func testIndexSaverSavesAtMostEveryIntervalAndAtShutdown() async throws {
        let fixture = try writableFixture()
        XCTAssertEqual(IndexSaver(catalog: fixture.catalog).interval, .seconds(30))
        let saver = IndexSaver(catalog: fixture.catalog, interval: .seconds(3600))
        let group = ServiceGroup(configuration: .init(services: [saver], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        let added = try await UploadStore(service: fixture.service).add(TinyPNG.solid(width: 29, height: 31, red: 9, green: 9, blue: 200),
                                                                         metadata: nil)
        XCTAssertTrue(saver.hasUnsavedChanges)
        XCTAssertFalse(try VectorIndex.load(from: Catalog.indexURL(fixture.directory)).contains(Int64(added.id)))
        await group.triggerGracefulShutdown()
        try await running.value
        XCTAssertFalse(saver.hasUnsavedChanges)
        let saved = try VectorIndex.load(from: Catalog.indexURL(fixture.directory))
        XCTAssertTrue(saved.contains(Int64(added.id)))
        XCTAssertEqual(saved.coveredSequence, try fixture.catalog.store.lastSequence)
    }
}

/// A response as the tests read it.
struct TestAnswer {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var text: String
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:] }
    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    var errorMessage: String { (json["error"] as? [String: Any])?["message"] as? String ?? "" }
}

extension TestResponse {
    var text: String { String(buffer: body) }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:] }
}

extension TestClientProtocol {
    /// A raw-body upload (`Content-Type: image/png` or `image/jpeg` by the magic bytes).
    func upload(_ bytes: [UInt8], key: String?, headerStyle: KeyStyle = .bearer) async throws -> TestAnswer {
        var headers = KeyStyle.headers(key, headerStyle)
        headers[.contentType] = bytes.starts(with: [0xFF, 0xD8]) ? "image/jpeg" : "image/png"
        return try await answer(uri: "/v1/items", method: .post, headers: headers, body: ByteBuffer(bytes: bytes))
    }

    /// A multipart upload: part `image` plus text fields.
    func uploadMultipart(_ bytes: [UInt8], fields: [String: String], key: String?) async throws -> TestAnswer {
        let boundary = "kestrel-test-boundary-7d3f"
        var body: [UInt8] = []
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"../../x.png\"\r\nContent-Type: image/png\r\n\r\n".utf8)
        body += bytes
        body += Array("\r\n--\(boundary)--\r\n".utf8)
        var headers = KeyStyle.headers(key, .bearer)
        headers[.contentType] = "multipart/form-data; boundary=\(boundary)"
        return try await answer(uri: "/v1/items", method: .post, headers: headers, body: ByteBuffer(bytes: body))
    }

    func send(_ method: HTTPRequest.Method, _ uri: String, key: String?, headerStyle: KeyStyle = .bearer) async throws -> TestAnswer {
        try await answer(uri: uri, method: method, headers: KeyStyle.headers(key, headerStyle), body: nil)
    }

    func answer(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestAnswer {
        let response = try await execute(uri: uri, method: method, headers: headers, body: body)
        return TestAnswer(status: response.status, headers: response.headers, text: String(buffer: response.body))
    }
}

/// How a test presents the key.
enum KeyStyle {
    case bearer, lowercaseBearer, xAPIKey

    static func headers(_ key: String?, _ style: KeyStyle) -> HTTPFields {
        var headers = HTTPFields()
        guard let key else { return headers }
        switch style {
        case .bearer: headers[.authorization] = "Bearer \(key)"
        case .lowercaseBearer: headers[.authorization] = "bearer \(key)"
        case .xAPIKey: headers[HTTPField.Name("X-API-Key")!] = key
        }
        return headers
    }
}
