import Foundation
import Hummingbird
import HummingbirdTesting
import KestrelEngine
import KestrelServer
import KestrelTestSupport
import Logging
import XCTest

final class OpenAPITests: XCTestCase {
    typealias Kit = ServerTestKit

    static func document() throws -> [String: Any] {
        let url = Fixtures.repoRoot.appendingPathComponent("Sources/KestrelServer/Resources/openapi.json")
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    /// "METHOD /path" for every operation of the document.
    static func operations(_ doc: [String: Any]) -> Set<String> {
        var out = Set<String>()
        for (path, item) in doc["paths"] as? [String: Any] ?? [:] {
            for (method, _) in item as? [String: Any] ?? [:] where ["get", "post", "put", "delete", "patch", "head"].contains(method) {
                out.insert("\(method.uppercased()) \(path)")
            }
        }
        return out
    }

    func testTheDocumentAndTheRouterListTheSameRoutes() throws {
        let doc = try Self.document()
        XCTAssertEqual(doc["openapi"] as? String, "3.1.0")
        let router = KestrelHTTP.makeRouter(service: try Kit.service(), logger: Logger(label: "test"))
        let registered = Set(router.routes.map { "\($0.method.rawValue) \($0.path.description)" })
        let documented = Self.operations(doc)
        XCTAssertEqual(registered.subtracting(documented), [], "registered but not documented")
        XCTAssertEqual(documented.subtracting(registered), [], "documented but not registered")
    }

    func testEveryOperationDocumentsItsErrorsWithTheErrorSchema() throws {
        let doc = try Self.document()
        let schemas = (doc["components"] as? [String: Any])?["schemas"] as? [String: Any]
        XCTAssertNotNil(schemas?["Error"])
        for (path, item) in doc["paths"] as? [String: Any] ?? [:] {
            for (method, op) in item as? [String: Any] ?? [:] where method != "parameters" {
                let responses = (op as? [String: Any])?["responses"] as? [String: Any] ?? [:]
                XCTAssertNotNil(responses["405"], "\(method) \(path) lacks 405")
                let okCodes = responses.keys.filter { $0.hasPrefix("2") }
                XCTAssertEqual(okCodes.count, 1, "\(method) \(path)")
                for (code, r) in responses where !code.hasPrefix("2") {
                    let schema = (((r as? [String: Any])?["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any]
                    XCTAssertEqual(schema?["$ref"] as? String, "#/components/schemas/Error", "\(method) \(path) \(code)")
                }
                let wrapped = path.hasPrefix("/v1/")
                if wrapped { XCTAssertNotNil(responses["503"], "\(method) \(path) lacks 503 (deadline)") }
                if ["post"].contains(method), path.hasPrefix("/v1/") {
                    for code in ["400", "413", "415"] { XCTAssertNotNil(responses[code], "\(method) \(path) lacks \(code)") }
                }
                if (op as? [String: Any])?["security"] != nil {
                    for code in ["401", "403"] { XCTAssertNotNil(responses[code], "\(method) \(path) lacks \(code)") }
                }
            }
        }
        // The write routes carry the key's security schemes.
        let items = (doc["paths"] as? [String: Any])?["/v1/items"] as? [String: Any]
        XCTAssertNotNil((items?["post"] as? [String: Any])?["security"])
    }

    /// The Error schema's code list is `APIError.codes`, both ways, and every code a source file of
    /// the server throws (`code: "x"`, `badRequest("x"`) is in it.
    func testErrorCodesAreListed() throws {
        let doc = try Self.document()
        let error = ((doc["components"] as? [String: Any])?["schemas"] as? [String: Any])?["Error"] as? [String: Any]
        let detail = ((error?["properties"] as? [String: Any])?["error"] as? [String: Any])?["properties"] as? [String: Any]
        let documented = Set((detail?["code"] as? [String: Any])?["enum"] as? [String] ?? [])
        XCTAssertEqual(documented.subtracting(APIError.codes), [], "documented but not in APIError.codes")
        XCTAssertEqual(APIError.codes.subtracting(documented), [], "in APIError.codes but not documented")
        // Every code the sources name.
        let folder = Fixtures.repoRoot.appendingPathComponent("Sources/KestrelServer")
        let files = try XCTUnwrap(FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil))
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
        XCTAssertGreaterThan(files.count, 10)
        let pattern = try NSRegularExpression(pattern: #"(?:code: |badRequest\()"([a-z_]+)""#)
        var thrown = Set<String>()
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for m in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                thrown.insert(String(text[Range(m.range(at: 1), in: text)!]))
            }
        }
        XCTAssertTrue(thrown.contains("deadline_exceeded") && thrown.contains("bad_id"), "\(thrown)")
        XCTAssertEqual(thrown.subtracting(APIError.codes), [], "thrown but not in APIError.codes (nor the document)")
        // The limit names /v1/info shows are the ones the Error schema lists.
        let limitNames = Set((((detail?["limit"] as? [String: Any])?["properties"] as? [String: Any])?["name"] as? [String: Any])?["enum"] as? [String] ?? [])
        let info = ((doc["components"] as? [String: Any])?["schemas"] as? [String: Any])?["Info"] as? [String: Any]
        let infoLimits = (((info?["properties"] as? [String: Any])?["limits"] as? [String: Any])?["properties"] as? [String: Any]) ?? [:]
        XCTAssertEqual(Set(infoLimits.keys).subtracting(["request_timeout_seconds"]), limitNames)
    }

    /// What the code answers beyond the common errors is documented.
    func testSpecificAnswersAreDocumented() throws {
        let doc = try Self.document()
        let paths = doc["paths"] as? [String: Any] ?? [:]
        func responses(_ path: String, _ method: String) -> [String: Any] {
            (((paths[path] as? [String: Any])?[method] as? [String: Any])?["responses"] as? [String: Any]) ?? [:]
        }
        let upload = responses("/v1/items", "post")
        XCTAssertNotNil(upload["409"], "settings_mismatch")
        let created = ((((upload["201"] as? [String: Any])?["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any])
        XCTAssertNotNil((created?["properties"] as? [String: Any])?["path_bytes"])
        for path in ["/readyz", "/v1/duplicates"] {
            let r503 = (path == "/readyz" ? responses(path, "get") : responses(path, "get"))["503"] as? [String: Any]
            XCTAssertNotNil((r503?["headers"] as? [String: Any])?["Retry-After"], path)
        }
        let schemas = (doc["components"] as? [String: Any])?["schemas"] as? [String: Any]
        let search = (schemas?["SearchResponse"] as? [String: Any])?["properties"] as? [String: Any]
        XCTAssertNotNil(search?["truncated"])
        // Metadata may be any JSON value.
        let hit = (schemas?["SearchHit"] as? [String: Any])?["properties"] as? [String: Any]
        XCTAssertNil((hit?["metadata"] as? [String: Any])?["type"])
    }
}
