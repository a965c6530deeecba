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

    /// A store of a few hundred items (distinct bytes: the sample images with a counter appended,
    /// under names of varied length), so its databases span branch pages, many leaf pages and
    /// large values.
    func makeLargerIndex() throws -> URL {
        let root = Fixtures.temporaryDirectory("kestrel-pages")
        addTeardownBlock { try? FileManager.default.removeItem(at: root) }
        let images = root.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        let samples = try FileManager.default.subpathsOfDirectory(atPath: "samples/images").filter { $0.hasSuffix(".png") || $0.hasSuffix(".jpg") }.sorted()
        for i in 0..<240 {
            let sample = samples[i % samples.count]
            var bytes = try Data(contentsOf: URL(fileURLWithPath: "samples/images").appendingPathComponent(sample))
            bytes.append(Data("kestrel-\(i)".utf8))
            let name = "img\(i)-" + String(repeating: "x", count: i % 40) + "." + (sample as NSString).pathExtension
            try bytes.write(to: images.appendingPathComponent(name))
        }
        let index = root.appendingPathComponent("pristine")
        let r = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", images.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        return index
    }

    /// Whole pages of data.mdb overwritten with 0xFF or with zeros, one page at a time, for every
    /// page of the file: each read command either prints an `error:` naming the store, or prints
    /// exactly what it prints for the undamaged store. A different answer with exit status 0 is
    /// the failure this test exists for.
    func testKind4_WholePageDamageNeverGivesASilentlyDifferentAnswer() throws {
        let pristine = try makeLargerIndex()
        let reads: [[String]] = [
            ["index", "list"], ["index", "stats"], ["search", "--like", "7", "-k", "5"], ["search", "--text", "a red shape", "-k", "5"],
        ]
        let env = ["SWIFT_BACKTRACE": "enable=no"]
        var expected: [String] = []
        for command in reads {
            let r = try Kestrel.run(command + ["--index", pristine.path], environment: env)
            XCTAssertEqual(r.status, 0, r.stderr)
            expected.append(r.stdout)
        }
        XCTAssertGreaterThan(expected[0].split(separator: "\n").count, 200)
        let size = try Data(contentsOf: pristine.appendingPathComponent("store/data.mdb")).count
        let pages = size / 4096
        XCTAssertGreaterThan(pages, 40)
        var failures: [String] = []
        var errors = 0, same = 0
        for page in 0..<pages {
            for (f, fill) in [UInt8(0xFF), 0x00].enumerated() {
                let dir = try damagedCopy(of: pristine, page) { bytes in
                    bytes.replaceSubrange(page * 4096..<(page + 1) * 4096, with: [UInt8](repeating: fill, count: 4096))
                }
                let store = dir.appendingPathComponent("store").path
                // Each page meets two of the four commands (one per fill), every command a
                // quarter of the pages.
                for c in [(2 * page + f) % reads.count] {
                    let r = try Kestrel.run(reads[c] + ["--index", dir.path], environment: env)
                    let what = "page \(page) filled with \(fill) \(reads[c].joined(separator: " "))"
                    if r.signaled {
                        failures.append("\(what): signal \(r.status)")
                    } else if r.status == 0 {
                        if r.stdout == expected[c] { same += 1 } else {
                            failures.append("\(what): exit 0 with another answer (\(r.stdout.split(separator: "\n").count) lines): \(r.stdout.prefix(200))")
                        }
                    } else if r.stderr.contains("error: ") && r.stderr.contains(store) {
                        errors += 1
                    } else {
                        failures.append("\(what): exit \(r.status) without naming the store: \(r.stderr.prefix(300))")
                    }
                }
                try? FileManager.default.removeItem(at: dir)
            }
        }
        print("whole pages: \(pages) pages x 2 fills: \(errors) errors naming the store, \(same) same answers, \(failures.count) failures")
        XCTAssertEqual(failures.count, 0, "\(failures.count) failures:\n" + failures.prefix(8).joined(separator: "\n"))
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
