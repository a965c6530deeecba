import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
import KestrelServer
import KestrelTestSupport
import Logging
import NIOCore
import XCTest

/// The web page served at `/`, in headless Chromium (Debian's `chromium`; scripts/install-deps.sh
/// installs it). The real server runs in-process on a loopback port; the browser is driven over
/// the DevTools protocol (WebPageChromium.swift). Everything the page shows is compared with what
/// the API answers for the same request. Without Chromium the test is skipped, except under CI
/// (the environment variable CI set), where it fails.
///
/// The screenshot of the results for "a red circle" goes to docs/screenshot.png when
/// KESTREL_WRITE_SCREENSHOT=1, else to the test's temporary folder.
final class WebPageTests: XCTestCase {
    static let query = "a red circle"
    static let labels = ["a red circle", "a blue square", "a green triangle"]
    /// The page asks for this many results (its `k` field's default).
    static let pageK = 24
    /// The whole browser session stops by itself after this long.
    static let browserSeconds = 60.0

    func testPageServesItsFilesWithAContentSecurityPolicy() async throws {
        let fixture = try ServerFixture.make()
        let app = KestrelHTTP.makeApplication(service: fixture.service, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            for (uri, type, marker) in [("/", "text/html", "<script src=\"/static/app.js\""),
                                        ("/static/app.js", "text/javascript", "/v1/search/image"),
                                        ("/static/style.css", "text/css", ".grid")] {
                try await client.execute(uri: uri, method: .get) { response in
                    XCTAssertEqual(response.status, .ok, uri)
                    XCTAssertTrue(response.headers[.contentType]?.hasPrefix(type) ?? false, "\(uri): \(response.headers)")
                    let csp = response.headers[.contentSecurityPolicy] ?? ""
                    XCTAssertTrue(csp.contains("default-src 'self'") && csp.contains("img-src 'self' blob: data:"), "\(uri): \(csp)")
                    XCTAssertEqual(response.headers[.xContentTypeOptions], "nosniff")
                    XCTAssertTrue(String(buffer: response.body).contains(marker), uri)
                }
            }
            // Nothing from elsewhere: no absolute URLs to other hosts in the page's files.
            for uri in ["/", "/static/app.js", "/static/style.css"] {
                try await client.execute(uri: uri, method: .get) { response in
                    let text = String(buffer: response.body)
                    XCTAssertFalse(text.contains("http://") || text.contains("https://") || text.contains("//cdn"), uri)
                }
            }
            // Only the fixed list is served: no file names from the request.
            for uri in ["/static/index.html", "/static/../Resources/openapi.json", "/static/app.js.map", "/web/app.js"] {
                try await client.execute(uri: uri, method: .get) { response in
                    XCTAssertEqual(response.status, .notFound, uri)
                }
            }
        }
    }

    func testPageSearchesByTextImageAndSimilarityAndLabelsInHeadlessChromium() async throws {
        guard let chromium = HeadlessChromium.locate() else {
            if ProcessInfo.processInfo.environment["CI"] != nil {
                XCTFail("no Chromium (chromium or chromium-browser on PATH, or $KESTREL_CHROMIUM) but CI is set: scripts/install-deps.sh installs it")
                return
            }
            throw XCTSkip("no Chromium (chromium or chromium-browser on PATH, or $KESTREL_CHROMIUM); scripts/install-deps.sh installs it")
        }
        let fixture = try ServerFixture.make()
        let logger = Logger(label: "web-page-test")
        let router = KestrelHTTP.makeRouter(service: fixture.service, logger: logger)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)

        let image = Fixtures.repoRoot.appendingPathComponent("samples/images/circles/red_circle.png")
        let imageBytes = try Data(contentsOf: image)
        let truncated = fixture.directory.appendingPathComponent("truncated.png")
        try imageBytes.prefix(80).write(to: truncated)

        try await app.test(.live) { client in
            let port = try XCTUnwrap(client.port)
            // What the API answers for the requests the page will make.
            let textAPI = try await Self.results(client, "/v1/search", json: #"{"text": "\#(Self.query)", "k": \#(Self.pageK)}"#)
            XCTAssertFalse(textAPI.isEmpty)
            let clicked = try XCTUnwrap(textAPI.dropFirst().first, "the page test clicks the second result")
            let similarAPI = try await Self.results(client, "/v1/search", json: #"{"image_ids": [\#(clicked.id)], "k": \#(Self.pageK)}"#)
            let imageAPI = try await Self.results(client, "/v1/search/image?k=\(Self.pageK)", bytes: imageBytes)
            let (errorStatus, errorBody) = try await Self.post(client, "/v1/search/image?k=\(Self.pageK)", body: ByteBuffer(bytes: imageBytes.prefix(80)),
                                                             type: "image/png")
            XCTAssertEqual(errorStatus, .badRequest, errorBody)
            let apiError = try JSONDecoder().decode(APIError.Body.self, from: Data(errorBody.utf8)).error
            let labelAPI = try await Self.label(client, imageBytes, labels: Self.labels)
            let pastedID = textAPI[0].id
            let thumbnail = try await client.execute(uri: "/v1/items/\(pastedID)/thumbnail?size=256", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                return Data(buffer: response.body)
            }
            let pastedAPI = try await Self.results(client, "/v1/search/image?k=\(Self.pageK)", bytes: thumbnail)

            // The browser session runs on a thread of its own (it blocks on the pipe).
            let session = BrowserSession(chromium: chromium, url: "http://localhost:\(port)/", image: image.path,
                                         truncated: truncated.path, clickedID: clicked.id, pastedID: pastedID,
                                         work: fixture.directory)
            let seen = try await Self.onThread { try session.run() }
            print("web page test: image drop by \(seen.dropMethod)")

            // Text query: the same items in the same order, with their scores.
            XCTAssertEqual(seen.text.map(\.id), textAPI.map(\.id), "tiles for \"\(Self.query)\" vs the API")
            for (tile, hit) in zip(seen.text, textAPI) {
                XCTAssertEqual(tile.score, Double(hit.score), accuracy: 1e-6)
                XCTAssertEqual(tile.shownScore, String(format: "%.3f", Double(hit.score)))
            }
            XCTAssertTrue(seen.textStatus.contains("\(textAPI.count) result"), seen.textStatus)
            XCTAssertEqual(seen.thumbnailsLoaded, textAPI.count, "every thumbnail loads from /v1/items/{id}/thumbnail")

            // The cutoff slider hides exactly the tiles scoring below it.
            XCTAssertEqual(seen.shownAtCutoff, textAPI.filter { Double($0.score) >= seen.cutoff }.count, "cutoff \(seen.cutoff)")
            XCTAssertLessThan(seen.shownAtCutoff, textAPI.count)
            XCTAssertEqual(seen.shownAfterReset, textAPI.count)

            // Find similar (keyboard: Enter on the second tile): the API's answer, without the item itself.
            XCTAssertEqual(seen.similar.map(\.id), similarAPI.map(\.id))
            XCTAssertFalse(seen.similar.contains { $0.id == clicked.id })

            // Dropped image: the API's answer for the same bytes (the image itself first).
            XCTAssertEqual(seen.image.map(\.id), imageAPI.map(\.id))
            XCTAssertEqual(seen.image.first?.name, "red_circle.png")
            XCTAssertTrue(seen.previewShown, "the dropped image is previewed")

            // Pasted image (the thumbnail of the best text result): the API's answer for the same bytes.
            XCTAssertEqual(seen.pasted.map(\.id), pastedAPI.map(\.id))

            // A truncated image: the API's error, shown as it came.
            XCTAssertTrue(seen.errorText.contains(apiError.code) && seen.errorText.contains(apiError.message),
                          "page: \(seen.errorText)\napi: \(apiError)")
            XCTAssertTrue(seen.errorText.contains("400"), seen.errorText)

            // Label panel (file chosen with the picker): the API's ranking and probabilities.
            XCTAssertEqual(seen.labels.map(\.label), labelAPI.map(\.label))
            for (row, api) in zip(seen.labels, labelAPI) { XCTAssertEqual(row.probability, api.probability, accuracy: 1e-6) }
            XCTAssertEqual(Set(seen.labels.map(\.label)), Set(Self.labels))
            XCTAssertTrue(seen.labelStatus.contains(labelAPI.first?.label ?? "?"), seen.labelStatus)

            XCTAssertEqual(seen.exceptions, [], "uncaught exceptions or CSP violations in the page")

            // The screenshot: a PNG of the page showing the results for the query.
            XCTAssertTrue(seen.screenshot.starts(with: [0x89, 0x50, 0x4E, 0x47]))
            XCTAssertGreaterThan(seen.screenshot.count, 10_000)
            let shot = ProcessInfo.processInfo.environment["KESTREL_WRITE_SCREENSHOT"] == "1"
                ? Fixtures.repoRoot.appendingPathComponent("docs/screenshot.png")
                : fixture.directory.appendingPathComponent("screenshot.png")
            try seen.screenshot.write(to: shot)
            print("web page test: screenshot written to \(shot.path)")
        }
    }

    // MARK: API calls

    struct Hit: Decodable, Sendable { var id: UInt64; var score: Float; var path: String? }
    struct Hits: Decodable { var results: [Hit] }
    struct LabelRow: Decodable, Sendable { var label: String; var probability: Double }
    struct LabelAnswer: Decodable { var labels: [LabelRow] }

    static func post(_ client: some TestClientProtocol, _ uri: String, body: ByteBuffer, type: String) async throws -> (HTTPResponse.Status, String) {
        var headers = HTTPFields()
        headers[.contentType] = type
        return try await client.execute(uri: uri, method: .post, headers: headers, body: body) { ($0.status, String(buffer: $0.body)) }
    }

    static func results(_ client: some TestClientProtocol, _ uri: String, json: String) async throws -> [Hit] {
        let (status, body) = try await post(client, uri, body: ByteBuffer(string: json), type: "application/json")
        guard status == .ok else { throw FixtureError("\(uri) \(json): \(status) \(body)") }
        return try JSONDecoder().decode(Hits.self, from: Data(body.utf8)).results
    }

    static func results(_ client: some TestClientProtocol, _ uri: String, bytes: Data) async throws -> [Hit] {
        let (status, body) = try await post(client, uri, body: ByteBuffer(bytes: bytes), type: "image/png")
        guard status == .ok else { throw FixtureError("\(uri): \(status) \(body)") }
        return try JSONDecoder().decode(Hits.self, from: Data(body.utf8)).results
    }

    static func label(_ client: some TestClientProtocol, _ image: Data, labels: [String]) async throws -> [LabelRow] {
        let boundary = "kestrel-web-test-boundary"
        var body = ByteBuffer()
        body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"red_circle.png\"\r\nContent-Type: image/png\r\n\r\n")
        body.writeBytes(image)
        let json = String(decoding: try JSONEncoder().encode(labels), as: UTF8.self)
        body.writeString("\r\n--\(boundary)\r\nContent-Disposition: form-data; name=\"labels\"\r\n\r\n\(json)\r\n--\(boundary)--\r\n")
        let (status, text) = try await post(client, "/v1/label", body: body, type: "multipart/form-data; boundary=\(boundary)")
        guard status == .ok else { throw FixtureError("/v1/label: \(status) \(text)") }
        return try JSONDecoder().decode(LabelAnswer.self, from: Data(text.utf8)).labels
    }

    /// Runs blocking work on a new thread (not on the cooperative pool the server's handlers use).
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }
}
