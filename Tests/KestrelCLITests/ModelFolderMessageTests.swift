import Foundation
import KestrelTestSupport
import XCTest

/// Issue 6, kind 12 (model side): messages that say what is wrong with a model folder.
final class ModelFolderMessageTests: XCTestCase {
    func copyOfModel(_ name: String) throws -> URL {
        let dir = Fixtures.temporaryDirectory().appendingPathComponent(name)
        try FileManager.default.copyItem(at: Fixtures.url("models/\(name)"), to: dir)
        return dir
    }

    func embedError(_ dir: URL) throws -> String {
        let r = try Kestrel.run(["embed", "--model", dir.path, "--text", "a photo of a cat"])
        XCTAssertNotEqual(r.status, 0, r.stdout)
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
        return r.stderr
    }

    func testKind12_AMissingVocabularyFileIsNamed() throws {
        for (removed, named) in [(["vocab.json"], "vocab.json"), (["merges.txt"], "merges.txt"),
                                 (["vocab.json", "merges.txt"], "vocab.json")] {
            let dir = try copyOfModel("hf-tiny")
            for f in removed { try FileManager.default.removeItem(at: dir.appendingPathComponent(f)) }
            let message = try embedError(dir)
            XCTAssertTrue(message.contains(named), "\(removed): \(message)")
            XCTAssertTrue(message.contains("missing") || message.contains("no vocab.json"), "\(removed): \(message)")
            XCTAssertFalse(message.contains("outside the vocabulary"), "\(removed): \(message)")
        }
    }

    func testKind12_DevicesAndDirectoriesGivenAsModelFilesAreNamed() throws {
        for name in ["config.json", "model.safetensors", "preprocessor_config.json", "vocab.json"] {
            let dir = try copyOfModel("hf-tiny")
            try FileManager.default.removeItem(at: dir.appendingPathComponent(name))
            try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent(name).path, withDestinationPath: "/dev/zero")
            let message = try embedError(dir)
            XCTAssertTrue(message.contains(name) && message.contains("device"), "/dev/zero as \(name): \(message)")
        }
        let dir = try copyOfModel("hf-tiny")
        try FileManager.default.removeItem(at: dir.appendingPathComponent("preprocessor_config.json"))
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("preprocessor_config.json"), withIntermediateDirectories: false)
        let message = try embedError(dir)
        XCTAssertTrue(message.contains("preprocessor_config.json") && message.contains("directory"), message)
        XCTAssertFalse(message.contains("permission") || message.contains("NSCocoaErrorDomain"), message)
    }
}
