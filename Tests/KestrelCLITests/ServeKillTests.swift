import Foundation
import KestrelTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Kill -9 of `kestrel serve` during an add-by-upload loop loses nothing that was acknowledged
/// and leaves the store and index in step on restart.
final class ServeKillTests: XCTestCase {
    let key = "kill-test-key-7"

    func testKill9DuringUploadsLosesNothingAcknowledged() throws {
        let index = try ServeTesting.makeIndex()
        let ingested = try itemCount(index)
        var rng = SeededRandom(seed: 9)
        var acknowledged: [(id: Int, png: [UInt8])] = []
        var made = 0
        func nextPNG() -> [UInt8] {
            defer { made += 1 }
            // Distinct content: the colour and the size change with every image.
            return TinyPNG.solid(width: 8 + made % 40, height: 8 + made / 40, red: UInt8((made * 37) % 256),
                                 green: UInt8((made * 91 + 17) % 256), blue: UInt8((made * 53 + 101) % 256))
        }
        var killedInFlight = 0
        for _ in 0..<3 {
            let server = try ServeProcess.start(index: index, extra: [], environment: ["KESTREL_API_KEY": key])
            let uploadsBeforeKill = Int.random(in: 3...10, using: &rng)
            var round = 0
            while true {
                let png = nextPNG()
                let connection = try LoopbackConnection(port: server.port)
                let head = "POST /v1/items HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: \(key)\r\nContent-Type: image/png\r\n"
                    + "Content-Length: \(png.count)\r\nConnection: close\r\n\r\n"
                try connection.send(Array(head.utf8) + png)
                if round == uploadsBeforeKill {
                    // The request is on its way or being worked on: it is never acknowledged.
                    if Bool.random(using: &rng) { usleep(UInt32.random(in: 0...20_000, using: &rng)) }
                    kill(server.pid, SIGKILL)
                    killedInFlight += 1
                    break
                }
                let answer = try connection.readResponse()
                XCTAssertEqual(answer.status, 201, answer.text)
                let id = try XCTUnwrap(answer.json["id"] as? Int)
                XCTAssertEqual(answer.json["duplicate"] as? Bool, false)
                acknowledged.append((id, png))
                round += 1
            }
            XCTAssertEqual(server.waitForExit(seconds: 30), -SIGKILL)
        }
        XCTAssertEqual(killedInFlight, 3)
        XCTAssertGreaterThanOrEqual(acknowledged.count, 9)

        // Restart: ready at once (the index caught up from the store's log at open).
        let server = try ServeProcess.start(index: index, extra: [], environment: ["KESTREL_API_KEY": key])
        let ready = try LoopbackHTTP.request(port: server.port, method: "GET", path: "/readyz")
        XCTAssertEqual(ready.status, 200, ready.text)
        // Every acknowledged upload is stored under its id: the same bytes again answer that id.
        for (id, png) in acknowledged {
            let again = try LoopbackHTTP.request(port: server.port, method: "POST", path: "/v1/items",
                                                 headers: ["Authorization": "Bearer \(key)", "Content-Type": "image/png"], body: png)
            XCTAssertEqual(again.status, 201, again.text)
            XCTAssertEqual(again.json["id"] as? Int, id)
            XCTAssertEqual(again.json["duplicate"] as? Bool, true)
        }
        // A search over everything returns every acknowledged item, and as many results as the store holds items.
        let search = try LoopbackHTTP.json(port: server.port, path: "/v1/search", ["text": "a square of one colour", "k": 1000])
        XCTAssertEqual(search.status, 200, search.text)
        let found = Set(((search.json["results"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? Int })
        XCTAssertTrue(Set(acknowledged.map(\.id)).isSubset(of: found), "missing: \(Set(acknowledged.map(\.id)).subtracting(found).sorted())")
        kill(server.pid, SIGTERM)
        XCTAssertEqual(server.waitForExit(seconds: 60), 0, server.stderrText)

        let stats = try XCTUnwrap(try Kestrel.run(["index", "stats", "--index", index.path, "--json"]).jsonLines().first)
        let items = try XCTUnwrap(stats["items"] as? Int)
        XCTAssertEqual(stats["indexed"] as? Int, items)
        XCTAssertEqual(found.count, items)
        // The acknowledged uploads, plus at most the one request in flight at each kill.
        XCTAssertTrue((ingested + acknowledged.count)...(ingested + acknowledged.count + 3) ~= items, "\(items) items")
        print("kill -9 test: \(acknowledged.count) uploads acknowledged over 3 kills; \(items) items, all indexed")
    }

    func itemCount(_ index: URL) throws -> Int {
        let stats = try Kestrel.run(["index", "stats", "--index", index.path, "--json"])
        return try XCTUnwrap(try stats.jsonLines().first?["items"] as? Int)
    }
}
