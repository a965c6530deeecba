import Foundation
import KestrelTestSupport
import XCTest

/// Kinds 5 and 6 and the messages around them, run as a user runs them.
final class IndexIntegrityTests: XCTestCase {
    let model = "Tests/Fixtures/models/hf-tiny"

    func newIndex() -> URL {
        let dir = Fixtures.temporaryDirectory("kestrel-integrity")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.appendingPathComponent("ix")
    }

    @discardableResult
    func add(_ index: URL, _ paths: [String], _ extra: [String] = []) throws -> CommandResult {
        let r = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet"] + extra + paths)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r
    }

    func stats(_ index: URL) throws -> [String: Any] {
        let r = try Kestrel.run(["index", "stats", "--index", index.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try r.jsonLines().first ?? [:]
    }

    func searchPaths(_ index: URL, k: Int = 20) throws -> [String] {
        let r = try Kestrel.run(["search", "--index", index.path, "--text", "a shape", "-k", String(k), "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try r.jsonLines().map { $0["path"] as! String }
    }

    // MARK: - Kind 5: index.faiss belongs to its store

    func testKind5_StoreDeletedAndRecreatedDoesNotReuseTheOldIndex() throws {
        let index = newIndex()
        try add(index, ["samples/images/circles", "samples/images/squares"])
        XCTAssertEqual(try stats(index)["indexed"] as? Int, 8)
        try FileManager.default.removeItem(at: index.appendingPathComponent("store"))
        let r = try add(index, ["samples/images/triangles"])
        XCTAssertTrue(r.stderr.contains("warning:") && r.stderr.contains("index.faiss"), r.stderr)
        var s = try stats(index)
        XCTAssertEqual(s["items"] as? Int, 4)
        XCTAssertEqual(s["indexed"] as? Int, 4)
        XCTAssertTrue(try searchPaths(index).allSatisfy { $0.contains("/triangles/") })
        // And the next add works (no "duplicate id").
        try add(index, ["samples/images/circles"])
        s = try stats(index)
        XCTAssertEqual(s["items"] as? Int, 8)
        XCTAssertEqual(s["indexed"] as? Int, 8)
    }

    func testKind5_IndexCopiedFromABiggerOrSmallerStoreIsRebuilt() throws {
        let big = newIndex(), small = newIndex()
        try add(big, ["samples/images"])
        try add(small, ["samples/images/circles"])
        let bigFile = try Data(contentsOf: big.appendingPathComponent("index.faiss"))
        let smallFile = try Data(contentsOf: small.appendingPathComponent("index.faiss"))
        // A bigger store's index in the small folder.
        try bigFile.write(to: small.appendingPathComponent("index.faiss"))
        XCTAssertEqual(try stats(small)["indexed"] as? Int, 4)
        XCTAssertEqual(try searchPaths(small).count, 4)
        XCTAssertTrue(try searchPaths(small).allSatisfy { $0.contains("/circles/") })
        try add(small, ["samples/images/squares"])
        XCTAssertEqual(try stats(small)["indexed"] as? Int, 8)
        // A smaller store's index in the big folder.
        try smallFile.write(to: big.appendingPathComponent("index.faiss"))
        XCTAssertEqual(try stats(big)["indexed"] as? Int, 12)
        XCTAssertEqual(try searchPaths(big).count, 12)
    }

    /// Two copies of one store that took different changes have the same store id, sequence,
    /// count and dimension: the index file of one, put in the other's folder, must still be
    /// refused (its ids name other images there) and rebuilt, with a warning.
    func testKind5_IndexFromACopyThatTookOtherChangesIsRebuilt() throws {
        let base = newIndex()
        try add(base, ["samples/images/circles", "samples/images/squares"])
        let s3 = base.deletingLastPathComponent().appendingPathComponent("s3")
        let s4 = base.deletingLastPathComponent().appendingPathComponent("s4")
        try FileManager.default.copyItem(at: base, to: s3)
        try FileManager.default.copyItem(at: base, to: s4)
        let images = Fixtures.repoRoot.appendingPathComponent("samples/images").path
        for (dir, gone, new) in [(s3, "circles/blue_circle.png", "triangles/blue_triangle.png"), (s4, "squares/blue_square.jpg", "triangles/red_triangle.png")] {
            let r = try Kestrel.run(["index", "remove", "--index", dir.path, "\(images)/\(gone)"])
            XCTAssertEqual(r.status, 0, r.stderr)
            try add(dir, ["\(images)/\(new)"])
        }
        XCTAssertEqual(try stats(s3)["log_sequence"] as? Int, try stats(s4)["log_sequence"] as? Int)
        let own = try searchPaths(s3)
        XCTAssertEqual(own.count, 8)
        func top(_ dir: URL, _ image: String) throws -> CommandResult {
            try Kestrel.run(["search", "--index", dir.path, "--image", "\(images)/\(image)", "-k", "1", "--json"])
        }
        let ownTop = try top(s3, "triangles/red_triangle.png").stdout
        try FileManager.default.removeItem(at: s3.appendingPathComponent("index.faiss"))
        try FileManager.default.copyItem(at: s4.appendingPathComponent("index.faiss"), to: s3.appendingPathComponent("index.faiss"))

        let r = try top(s3, "triangles/red_triangle.png")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("warning:") && r.stderr.contains("index.faiss") && r.stderr.contains("copy of this store"), r.stderr)
        XCTAssertEqual(r.stdout, ownTop, "the answer of s3's own index")
        XCTAssertEqual(try searchPaths(s3), own)
        XCTAssertEqual(try stats(s3)["indexed"] as? Int, 8)
        // A writer replaces the file; afterwards it is s3's own and opens without a warning.
        try add(s3, ["\(images)/triangles/green_triangle.jpg"])
        let again = try Kestrel.run(["index", "stats", "--index", s3.path])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(again.stderr.contains("warning:"), again.stderr)
        // A file of format version 2 (no log chain) is rebuilt too.
        let file = s3.appendingPathComponent("index.faiss")
        var bytes = try Data(contentsOf: file)
        bytes[8] = 2
        try bytes.write(to: file)
        let old = try Kestrel.run(["index", "stats", "--index", s3.path, "--json"])
        XCTAssertEqual(old.status, 0, old.stderr)
        XCTAssertTrue(old.stderr.contains("warning:") && old.stderr.contains("version 2"), old.stderr)
        XCTAssertEqual(try old.jsonLines().first?["indexed"] as? Int, 9)
    }

    /// `index rebuild` never needs the old file, and never tells the user to run itself.
    func testKind5_RebuildWorksWhateverTheIndexFileIs() throws {
        let index = newIndex(), other = newIndex()
        try add(index, ["samples/images/circles", "samples/images/squares"])
        try add(other, ["samples/images"])
        let file = index.appendingPathComponent("index.faiss")
        let damaged: [(String, () throws -> Void)] = [
            ("garbage", { try Data("garbage".utf8).write(to: file) }),
            ("missing", { try FileManager.default.removeItem(at: file) }),
            ("foreign", {}),  // the other store's file, as put in place below
            ("truncated", {
                let bytes = try Data(contentsOf: other.appendingPathComponent("index.faiss"))
                try bytes.prefix(bytes.count / 2).write(to: file)
            }),
        ]
        for (name, damage) in damaged {
            try? FileManager.default.removeItem(at: file)
            try Data(contentsOf: other.appendingPathComponent("index.faiss")).write(to: file)
            try damage()
            let r = try Kestrel.run(["index", "rebuild", "--index", index.path])
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            XCTAssertFalse((r.stdout + r.stderr).contains("kestrel index rebuild"), "\(name): \(r.stdout) \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("over 8 items"), "\(name): \(r.stderr)")
            let s = try stats(index)
            XCTAssertEqual(s["indexed"] as? Int, 8, name)
        }
    }

    // MARK: - Kind 6: one writer, really

    /// A big enough folder that `index add` runs for a few seconds.
    func slowFolder() throws -> URL {
        let dir = Fixtures.temporaryDirectory("kestrel-images")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let sample = try Data(contentsOf: Fixtures.repoRoot.appendingPathComponent("samples/images/circles/red_circle.png"))
        for i in 0..<600 {
            var bytes = sample
            bytes.append(Data("kestrel-\(i)".utf8))
            try bytes.write(to: dir.appendingPathComponent("img\(i).png"))
        }
        return dir
    }

    func testKind6_DeletingTheLockFileDoesNotLetASecondWriterIn() throws {
        let index = newIndex()
        let images = try slowFolder()
        let first = Process()
        first.executableURL = Kestrel.binary
        first.arguments = ["index", "add", "--index", index.path, "--model", model, "--batch-size", "2", "--quiet", images.path]
        first.currentDirectoryURL = Fixtures.repoRoot
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) }; first.waitUntilExit() }
        // Wait until the first writer has created the store (it holds the lock by then).
        let data = index.appendingPathComponent("store/data.mdb")
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: data.path) && Date() < deadline { usleep(20_000) }
        XCTAssertTrue(first.isRunning, "the first writer finished too soon")
        // Whatever files the folder holds, deleting them does not remove the lock.
        for name in [".lock", "store/lock.mdb"] { try? FileManager.default.removeItem(at: index.appendingPathComponent(name)) }
        let second = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", "samples/images"])
        XCTAssertTrue(first.isRunning, "the first writer finished before the second one tried")
        XCTAssertEqual(second.status, 1, second.stderr)
        XCTAssertTrue(second.stderr.contains("another kestrel process is writing"), second.stderr)
        let remove = try Kestrel.run(["index", "remove", "--index", index.path, images.appendingPathComponent("img1.png").path])
        XCTAssertEqual(remove.status, 1, remove.stderr)
    }

    /// What a kill in the first milliseconds of creating an index left behind (an empty
    /// data.mdb, a temporary folder) does not stop the next `index add`.
    func testKind6_HalfCreatedStoreIsReplacedByTheNextAdd() throws {
        let index = newIndex()
        let store = index.appendingPathComponent("store")
        try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
        try Data().write(to: store.appendingPathComponent("data.mdb"))
        try Data(count: 8192).write(to: store.appendingPathComponent("lock.mdb"))
        let temp = index.appendingPathComponent(".store.creating-0123456789abcdef")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
        try Data().write(to: temp.appendingPathComponent("data.mdb"))
        // Reading commands say there is no index yet (and how to make one).
        let before = try Kestrel.run(["index", "stats", "--index", index.path])
        XCTAssertEqual(before.status, 1)
        XCTAssertTrue(before.stderr.contains("holds no Kestrel index") && before.stderr.contains("kestrel index add"), before.stderr)
        try add(index, ["samples/images/circles"])
        let s = try stats(index)
        XCTAssertEqual(s["items"] as? Int, 4)
        XCTAssertEqual(s["indexed"] as? Int, 4)
        XCTAssertFalse(FileManager.default.fileExists(atPath: temp.path))
    }

    /// Kind 4: a real store whose data.mdb was cut to 0 bytes looks like an interrupted
    /// creation, but its index.faiss shows it held data: every command refuses it as damaged and
    /// `index add` does not quietly start a new, empty store in its place.
    func testKind4_StoreCutToNothingBesideItsIndexIsDamagedNotReplaced() throws {
        let index = newIndex()
        try add(index, ["samples/images/circles"])
        XCTAssertEqual(truncate(index.appendingPathComponent("store/data.mdb").path, 0), 0)
        for args in [["index", "stats", "--index", index.path],
                     ["index", "add", "--index", index.path, "--model", model, "--quiet", "samples/images/squares"]] {
            let r = try Kestrel.run(args)
            XCTAssertEqual(r.status, 1, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("empty data.mdb") && r.stderr.contains("lost"), r.stderr)
        }
        let size = try FileManager.default.attributesOfItem(atPath: index.appendingPathComponent("store/data.mdb").path)[.size] as? Int
        XCTAssertEqual(size, 0, "nothing may be written over the damaged store")
    }

    /// A kill at any moment of the first run, creation included, leaves a folder the next
    /// `index add` completes.
    func testKind6_KillWhileCreatingNeverWedgesTheIndex() throws {
        var rng = SeededRandom(seed: 6)
        for attempt in 0..<8 {
            let index = newIndex()
            let p = Process()
            p.executableURL = Kestrel.binary
            p.arguments = ["index", "add", "--index", index.path, "--model", model, "--quiet", "samples/images/circles"]
            p.currentDirectoryURL = Fixtures.repoRoot
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(UInt32.random(in: 5_000...120_000, using: &rng))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            let r = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", "samples/images/circles"])
            XCTAssertEqual(r.status, 0, "attempt \(attempt): \(r.stderr)")
            XCTAssertEqual(try stats(index)["items"] as? Int, 4, "attempt \(attempt)")
        }
    }

    // MARK: - Read-only folders, full disks

    /// `index stats` and `search` work in a folder the user cannot write. The tests run as root,
    /// which ignores permission bits, so the commands run as `nobody` through setpriv.
    func testReadOnlyIndexFolderStillAllowsStatsAndSearch() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), getuid() == 0 else {
            throw XCTSkip("needs root and setpriv to run a command as another user")
        }
        let index = newIndex()
        try add(index, ["samples/images/circles", "samples/images/squares"])
        // nobody may read and enter the folders, not write them.
        try chmodTree(index.deletingLastPathComponent(), directories: 0o555, files: 0o444)
        defer { try? chmodTree(index.deletingLastPathComponent(), directories: 0o755, files: 0o644) }
        // The binary and the model must be reachable by nobody.
        let binary = Kestrel.binary.path
        let probe = try runAsNobody(["/bin/test", "-x", binary])
        guard probe.status == 0 else { throw XCTSkip("nobody cannot run \(binary)") }
        let stats = try runAsNobody([binary, "index", "stats", "--index", index.path, "--json"])
        XCTAssertEqual(stats.status, 0, stats.stderr)
        let fields = try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(fields?["items"] as? Int, 8, stats.stdout)
        XCTAssertEqual(fields?["indexed"] as? Int, 8, stats.stdout)
        let search = try runAsNobody([binary, "search", "--index", index.path, "--like", "1", "-k", "3", "--json"])
        XCTAssertEqual(search.status, 0, search.stderr)
        XCTAssertEqual(search.stdout.split(separator: "\n").count, 3, search.stdout)
        let write = try runAsNobody([binary, "index", "rebuild", "--index", index.path])
        XCTAssertEqual(write.status, 1)
        XCTAssertTrue(write.stderr.contains("error:"), write.stderr)
    }

    func chmodTree(_ root: URL, directories: Int, files: Int) throws {
        let fm = FileManager.default
        for sub in try fm.subpathsOfDirectory(atPath: root.path) {
            let url = root.appendingPathComponent(sub)
            var isDir: ObjCBool = false
            fm.fileExists(atPath: url.path, isDirectory: &isDir)
            try fm.setAttributes([.posixPermissions: isDir.boolValue ? directories : files], ofItemAtPath: url.path)
        }
        try fm.setAttributes([.posixPermissions: directories], ofItemAtPath: root.path)
    }

    func runAsNobody(_ command: [String]) throws -> CommandResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "--"] + command
        p.currentDirectoryURL = URL(fileURLWithPath: "/")
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.environment = ["PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "SWIFT_BACKTRACE": "enable=no"]
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return CommandResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                             stderr: String(decoding: e, as: UTF8.self), signaled: p.terminationReason == .uncaughtSignal)
    }

    /// A 2 MB tmpfs, unmounted when the test ends; skips the test where mounting is not allowed.
    func smallTmpfs() throws -> URL {
        let mountPoint = Fixtures.temporaryDirectory("kestrel-fulldisk")
        guard shell(["/bin/mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint.path]) == 0 else {
            throw XCTSkip("cannot mount a tmpfs here")
        }
        addTeardownBlock { [self] in _ = shell(["/bin/umount", mountPoint.path]); try? FileManager.default.removeItem(at: mountPoint) }
        return mountPoint
    }

    /// On a full disk `index add` says so, and that the store is intact; after space is freed
    /// the same command completes. Needs a small tmpfs (root with mount rights).
    func testFullDiskSaysTheDiskIsFullAndTheStoreIsIntact() throws {
        let mountPoint = try smallTmpfs()
        let index = mountPoint.appendingPathComponent("ix")
        try add(index, ["samples/images/circles"])
        // Fill the disk.
        let filler = mountPoint.appendingPathComponent("filler")
        FileManager.default.createFile(atPath: filler.path, contents: nil)
        let handle = try FileHandle(forWritingTo: filler)
        let chunk = Data(count: 64 << 10)
        while (try? handle.write(contentsOf: chunk)) != nil {}
        try? handle.close()
        let images = try slowFolder()
        let r = try Kestrel.run(["index", "add", "--index", index.path, "--model", model, "--quiet", images.path])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertFalse(r.signaled)
        XCTAssertTrue(r.stderr.contains("full") && r.stderr.contains("intact"), r.stderr)
        XCTAssertFalse(r.stderr.contains("Input/output error"), r.stderr)
        try FileManager.default.removeItem(at: filler)
        XCTAssertEqual(try stats(index)["items"] as? Int, 4)
        try add(index, ["samples/images/squares"])
        XCTAssertEqual(try stats(index)["items"] as? Int, 8)
    }

    /// Kind 12: the disk fills up in the middle of a run. The batches before are stored: the
    /// message says how many files of this run went in, that the store is intact and to run the
    /// same command again; the summary is printed, and the report written or said not to be.
    /// Running the command again after space is freed stores the rest.
    func testKind12_DiskFullMidRunSaysHowManyFilesWereStored() throws {
        let mountPoint = try smallTmpfs()
        let index = mountPoint.appendingPathComponent("ix")
        try add(index, ["samples/images/circles"])
        // Leave room for some batches of the run, not all of them.
        let free = try XCTUnwrap(try FileManager.default.attributesOfFileSystem(forPath: mountPoint.path)[.systemFreeSize] as? Int)
        let filler = mountPoint.appendingPathComponent("filler")
        try Data(count: max(0, free - 150_000)).write(to: filler)
        let images = try slowFolder()
        let command = ["index", "add", "--index", index.path, "--model", model, "--quiet", images.path]
        let r = try Kestrel.run(command)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertFalse(r.signaled)
        let items = try XCTUnwrap(try stats(index)["items"] as? Int)
        let stored = items - 4
        XCTAssertGreaterThan(stored, 0, "some batches fit: \(r.stderr)")
        XCTAssertLessThan(stored, 600, r.stderr)
        XCTAssertTrue(r.stderr.contains("error: the disk holding \(index.path)/store filled up during this run: \(stored) files of this run were stored"), r.stderr)
        XCTAssertTrue(r.stderr.contains("the other \(600 - stored) files were not stored, and the store is intact"), r.stderr)
        XCTAssertTrue(r.stderr.contains("run the same command again"), r.stderr)
        XCTAssertFalse(r.stderr.contains("nothing of this write was stored"), r.stderr)
        XCTAssertTrue(r.stderr.contains("added \(stored), duplicates 0"), "the summary of what went in: \(r.stderr)")
        let reportFile = index.appendingPathComponent("ingest-report.json")
        if r.stderr.contains("report: \(reportFile.path)") {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: reportFile)) as? [String: Any]
            XCTAssertEqual(json?["added"] as? Int, stored)
        } else {
            XCTAssertTrue(r.stderr.contains("warning: the report was not written to \(reportFile.path)"), r.stderr)
        }
        try FileManager.default.removeItem(at: filler)
        let again = try Kestrel.run(command)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("added \(600 - stored), duplicates 0, unchanged \(stored)"), again.stderr)
        XCTAssertEqual(try stats(index)["items"] as? Int, 604)
        XCTAssertEqual(try stats(index)["indexed"] as? Int, 604)
    }

    func shell(_ command: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: command[0])
        p.arguments = Array(command.dropFirst())
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}
