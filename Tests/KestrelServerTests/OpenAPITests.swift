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

    /// Every error code the document lists in its Error schema is one the service uses, and the
    /// codes the routes answer are in it.
    func testErrorCodesAreListed() throws {
        let doc = try Self.document()
        let error = ((doc["components"] as? [String: Any])?["schemas"] as? [String: Any])?["Error"] as? [String: Any]
        let detail = ((error?["properties"] as? [String: Any])?["error"] as? [String: Any])?["properties"] as? [String: Any]
        let codes = Set((detail?["code"] as? [String: Any])?["enum"] as? [String] ?? [])
        for code in ["bad_request", "bad_id", "bad_image", "bad_upload", "empty_image", "limit_exceeded", "unsupported_media_type",
                     "not_found", "method_not_allowed", "unauthorized", "forbidden", "read_only", "deadline_exceeded", "not_ready", "internal"] {
            XCTAssertTrue(codes.contains(code), code)
        }
    }
}
