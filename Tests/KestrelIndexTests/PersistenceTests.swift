import KestrelIndex
import KestrelTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class PersistenceTests: XCTestCase {
    let d = 16
    var dir: URL!

    override func setUp() { dir = Fixtures.temporaryDirectory("kestrel-index") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func makeIndex(_ factory: String, count n: Int, seed: UInt64) throws -> VectorIndex {
        let base = unitVectors(n, d, seed: seed)
        let index = try VectorIndex.create(dimension: d, factory: factory)
        try index.train(sampleFrom: base, count: n)
        try index.add(ids: sparseIDs(n), vectors: base)
        return index
    }

    func testIDsResultsAndMetadataSurviveSaveLoad() throws {
        for factory in ["Flat", "HNSW32,Flat", "IVF8,Flat"] {
            let index = try makeIndex(factory, count: 800, seed: 1)
            index.coveredSequence = 12_345
            let url = dir.appendingPathComponent("\(factory).kidx")
            try index.tune(recallTarget: 0.9, sampleQueries: 50)
            try index.save(to: url)
            let loaded = try VectorIndex.load(from: url)
            XCTAssertEqual(loaded.ids, index.ids, factory)
            XCTAssertEqual(loaded.factory, factory)
            XCTAssertEqual(loaded.dimension, d)
            XCTAssertEqual(loaded.coveredSequence, 12_345)
            XCTAssertEqual(loaded.searchParameters, index.searchParameters, factory)
            XCTAssertEqual(loaded.tuning, index.tuning, factory)
            let queries = unitVectors(10, d, seed: 2)
            XCTAssertEqual(try loaded.search(queries, count: 10, k: 5).map { $0.map(\.id) },
                           try index.search(queries, count: 10, k: 5).map { $0.map(\.id) }, factory)
            let info = try VectorIndex.inspect(at: url)
            XCTAssertEqual(info.count, 800)
            XCTAssertEqual(info.coveredSequence, 12_345)
        }
    }

    func testFailedSaveLeavesOldFileIntact_tempPathUnwritable() throws {
        let url = dir.appendingPathComponent("index.kidx")
        try makeIndex("Flat", count: 100, seed: 3).save(to: url)
        let before = try Data(contentsOf: url)
        // A directory squatting on the temp path makes creating the temp file fail.
        try FileManager.default.createDirectory(at: dir.appendingPathComponent(".index.kidx.tmp"), withIntermediateDirectories: false)
        XCTAssertThrowsError(try makeIndex("Flat", count: 500, seed: 4).save(to: url)) {
            guard case .io? = $0 as? IndexError else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(try Data(contentsOf: url), before)
        XCTAssertEqual(try VectorIndex.load(from: url).count, 100)
    }

    func testFailedSaveLeavesOldFileIntact_writeFailsMidway() throws {
        let url = dir.appendingPathComponent("index.kidx")
        try makeIndex("Flat", count: 100, seed: 3).save(to: url)
        let before = try Data(contentsOf: url)
        let bigger = try makeIndex("Flat", count: 4000, seed: 5)  // ~260 KB
        // Cap the file size (like a full disk): write() fails with EFBIG part way through.
        var old = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        let oldHandler = signal(SIGXFSZ, SIG_IGN)
        var capped = old
        capped.rlim_cur = 64 * 1024
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &capped), 0)
        XCTAssertThrowsError(try bigger.save(to: url)) {
            guard case .io(_, "write", _)? = $0 as? IndexError else { return XCTFail("\($0)") }
        }
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        signal(SIGXFSZ, oldHandler)
        XCTAssertEqual(try Data(contentsOf: url), before)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent(".index.kidx.tmp").path))
        XCTAssertEqual(try VectorIndex.load(from: url).count, 100)
        try bigger.save(to: url)  // and with room again it works
        XCTAssertEqual(try VectorIndex.load(from: url).count, 4000)
    }

    func testDamagedFilesGiveClearErrors() throws {
        let url = dir.appendingPathComponent("index.kidx")
        try makeIndex("IVF8,Flat", count: 500, seed: 6).save(to: url)
        let good = try Data(contentsOf: url)

        func load(_ bytes: Data) -> IndexError? {
            try! bytes.write(to: url)
            do {
                _ = try VectorIndex.load(from: url)
                return nil
            } catch {
                return error as? IndexError
            }
        }
        func assertRebuildHint(_ error: IndexError?, line: UInt = #line) {
            XCTAssertNotNil(error, line: line)
            XCTAssertTrue(error?.description.contains("kestrel index rebuild") == true, "\(String(describing: error))", line: line)
        }

        var flipped = good
        flipped[good.count - 100] ^= 0xFF
        let e1 = load(flipped)
        XCTAssertEqual(e1, .corrupt(path: url.path, reason: "payload checksum mismatch"))
        assertRebuildHint(e1)

        let e2 = load(good.prefix(good.count - 10))
        guard case .corrupt? = e2 else { return XCTFail("\(String(describing: e2))") }
        assertRebuildHint(e2)

        var version = good
        version[8] = 99
        let e3 = load(version)
        XCTAssertEqual(e3, .unsupportedVersion(path: url.path, found: 99, supported: 3))
        assertRebuildHint(e3)

        let e4 = load(Data("this is not an index at all".utf8))
        XCTAssertEqual(e4, .notAnIndexFile(path: url.path))
        assertRebuildHint(e4)

        var header = good
        header[20] ^= 0x01
        guard case .corrupt(_, "header checksum mismatch")? = load(header) else { return XCTFail("header flip not caught") }

        XCTAssertThrowsError(try VectorIndex.load(from: dir.appendingPathComponent("missing.kidx"))) {
            guard case .io? = $0 as? IndexError else { return XCTFail("\($0)") }
        }
    }
}
