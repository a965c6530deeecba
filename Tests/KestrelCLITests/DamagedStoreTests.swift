import Foundation
import KestrelTestSupport
import XCTest

/// Kind 4: a damaged LMDB file is an error that names the store, never SIGBUS / SIGSEGV.
/// Every case runs the real `kestrel` binary as a subprocess, so a crash shows up as a signal
/// (and cannot take the test runner down).
final class Kind4DamagedStoreTests: XCTestCase {
    let model = "Tests/Fixtures/models/hf-tiny"
    /// Commands of the mix; the index folder is appended.
    let commands: [[String]] = [
        ["index", "stats"], ["search", "--like", "1", "-k", "3"], ["index", "list"], ["index", "add", "--quiet"],
    ]

    /// A real index folder over the sample images, built once per test.
    func makePristineIndex() throws -> URL {
        let index = Fixtures.temporaryDirectory("kestrel-damage").appendingPathComponent("pristine")
        let r = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", "samples/images/circles", "samples/images/squares"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return index
    }

    /// A copy of the pristine folder whose data.mdb `damage` then changes.
    func damagedCopy(of pristine: URL, _ n: Int, _ damage: (inout Data) -> Void) throws -> URL {
        let dir = pristine.deletingLastPathComponent().appendingPathComponent("case\(n)")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.copyItem(at: pristine, to: dir)
        let data = dir.appendingPathComponent("store/data.mdb")
        var bytes = try Data(contentsOf: data)
        damage(&bytes)
        try bytes.write(to: data)
        return dir
    }

    func run(_ command: [String], _ dir: URL) throws -> CommandResult {
        var args = command + ["--index", dir.path]
        if command.last == "--quiet" { args += ["--model", model, "samples/images/triangles"] }
        // No crash-report symbolication: a crash is a failure either way, and it is slow.
        return try Kestrel.run(args, environment: ["SWIFT_BACKTRACE": "enable=no"])
    }

    func testKind4_TruncatedStoreIsAnErrorNamingTheStore() throws {
        let pristine = try makePristineIndex()
        let size = try Data(contentsOf: pristine.appendingPathComponent("store/data.mdb")).count
        var rng = SeededRandom(seed: 4)
        var failures: [String] = []
        for n in 0..<100 {
            let fraction = Double.random(in: 0.1...0.9, using: &rng)
            let keep = Int(Double(size) * fraction)
            let dir = try damagedCopy(of: pristine, n) { $0 = $0.prefix(keep) }
            let command = commands[n % commands.count]
            let r = try run(command, dir)
            let store = dir.appendingPathComponent("store").path
            if r.signaled || r.status != 1 || !r.stderr.contains("error: ") || !r.stderr.contains(store) {
                failures.append("case \(n) \(command.joined(separator: " ")) truncated to \(keep)/\(size): "
                    + "\(r.signaled ? "signal" : "exit") \(r.status): \(r.stderr.prefix(300))")
            }
            try? FileManager.default.removeItem(at: dir)
        }
        XCTAssertEqual(failures.count, 0, failures.prefix(5).joined(separator: "\n"))
    }

    func testKind4_ByteFlipsNeverCrash() throws {
        let pristine = try makePristineIndex()
        let size = try Data(contentsOf: pristine.appendingPathComponent("store/data.mdb")).count
        var rng = SeededRandom(seed: 44)
        var failures: [String] = []
        var errors = 0, answers = 0
        for n in 0..<100 {
            // 1 to 8 bytes changed, anywhere in the file (meta pages, branch and leaf pages, values).
            var flips: [(Int, UInt8)] = []
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                flips.append((Int.random(in: 0..<size, using: &rng), UInt8.random(in: 1...255, using: &rng)))
            }
            let dir = try damagedCopy(of: pristine, n) { bytes in for (at, x) in flips { bytes[at] ^= x } }
            let command = commands[n % commands.count]
            let r = try run(command, dir)
            let store = dir.appendingPathComponent("store").path
            if r.signaled {
                failures.append("case \(n) \(command.joined(separator: " ")) flips \(flips): signal \(r.status): \(r.stderr.prefix(300))")
            } else if r.status != 0 {
                errors += 1
                if !r.stderr.contains("error: ") || !r.stderr.contains(dir.path) {
                    failures.append("case \(n) \(command.joined(separator: " ")) flips \(flips): exit \(r.status) without naming the store: \(r.stderr.prefix(300))")
                }
            } else {
                answers += 1
            }
            try? FileManager.default.removeItem(at: dir)
        }
        print("byte flips: \(errors) errors naming the store, \(answers) answers, \(failures.count) failures")
        XCTAssertEqual(failures.count, 0, failures.prefix(5).joined(separator: "\n"))
    }

    /// A truncated store opened for writing is refused too, and the file is left as it was.
    func testKind4_TruncatedStoreIsNotWrittenTo() throws {
        let pristine = try makePristineIndex()
        let dir = try damagedCopy(of: pristine, 0) { $0 = $0.prefix($0.count / 2) }
        let before = try Data(contentsOf: dir.appendingPathComponent("store/data.mdb"))
        let r = try run(commands[3], dir)
        XCTAssertFalse(r.signaled)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("truncated"), r.stderr)
        XCTAssertTrue(r.stderr.contains("HINT") && r.stderr.contains("kestrel index add"), r.stderr)
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("store/data.mdb")), before)
    }
}
