import KestrelStore
import XCTest

/// Kind 4: `HINT:` lines name commands a user can run, not Swift types or methods.
final class Kind4HintTests: XCTestCase {
    func testKind4_StoreHintsNameCommandsNotSwiftAPI() {
        let id = ModelIdentity(name: "m", fingerprint: "f", dimension: 4)
        let errors: [StoreError] = [
            .notFound(store: "/s"), .alreadyExists(store: "/s"), .notAStore(store: "/s", detail: "d"),
            .unsupportedSchema(store: "/s", found: 2, supported: 1), .identityMismatch(store: "/s", stored: id, requested: id),
            .dimensionMismatch(store: "/s", expected: 4, actual: 3, path: "p"), .invalidContentHash(store: "/s", path: "p", hash: "h"),
            .missingEmbedding(store: "/s", path: "p"), .corrupt(store: "/s", detail: "d"),
        ]
        for e in errors {
            let text = e.description
            guard let hint = text.range(of: "HINT:").map({ String(text[$0.upperBound...]) }) else { continue }
            for api in ["Store.", "(at:", "(ofFileAt:", "identity:)", "pixelLimit"] {
                XCTAssertFalse(hint.contains(api), "\(e): hint names Swift API: \(hint)")
            }
        }
        XCTAssertTrue(StoreError.notFound(store: "/s").description.contains("`kestrel index add"))
        XCTAssertTrue(StoreError.corrupt(store: "/s", detail: "d").description.contains("`kestrel index add"))
    }
}
