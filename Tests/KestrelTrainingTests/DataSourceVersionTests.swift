import Foundation
import KestrelTestSupport
import KestrelTraining
import XCTest

/// The one git-describe helper reports Kestrel's own checkout, wherever the command runs.
final class DataSourceVersionTests: XCTestCase {
    func git(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testDescribesTheSourceCheckoutNotTheCurrentDirectory() throws {
        // Tests/KestrelTrainingTests/<this file>: the repository root is three levels up.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        XCTAssertEqual(SourceVersion.sourceRoot.standardizedFileURL.path, root.standardizedFileURL.path)
        let expected = try git(["-C", root.path, "describe", "--always", "--dirty"])
        XCTAssertFalse(expected.isEmpty)
        let saved = FileManager.default.currentDirectoryPath
        let elsewhere = Fixtures.temporaryDirectory("kestrel-source-version")
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(elsewhere.path))
        defer { FileManager.default.changeCurrentDirectoryPath(saved) }
        XCTAssertEqual(SourceVersion.describe(), expected)
        XCTAssertEqual(RunRecord.gitDescribe(), expected)
        XCTAssertEqual(SourceVersion.describe(root: elsewhere), "unknown", "not a git checkout")
    }
}
