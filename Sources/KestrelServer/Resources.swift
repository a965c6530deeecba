import Foundation

/// Files served by the binary (the web page, the OpenAPI document), shipped as the target's
/// resources (Sources/KestrelServer/Resources; docs/openapi.json is a link to the same file).
enum ServedFiles {
    /// The bytes of `Resources/<name>`, or nil when there is no such file. Names come from the
    /// route table only, never from a request.
    static func data(_ name: String) -> Data? {
        guard let url = Bundle.module.url(forResource: "Resources", withExtension: nil) else { return nil }
        return try? Data(contentsOf: url.appendingPathComponent(name))
    }
}
