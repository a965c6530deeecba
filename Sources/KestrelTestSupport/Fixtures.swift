import Foundation

/// Paths into the repository for tests: fixtures are committed under `Tests/Fixtures/`.
public enum Fixtures {
    /// The repository root, found from this source file's location.
    public static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // KestrelTestSupport
        .deletingLastPathComponent()  // Sources
        .deletingLastPathComponent()  // repo root

    /// `Tests/Fixtures/<sub>`.
    public static func url(_ sub: String) -> URL {
        repoRoot.appendingPathComponent("Tests/Fixtures").appendingPathComponent(sub)
    }

    /// A fresh temporary directory, removed by the caller (or left in /tmp).
    public static func temporaryDirectory(_ prefix: String = "kestrel-test") -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
