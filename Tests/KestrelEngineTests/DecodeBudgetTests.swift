import Foundation
import KestrelEngine
import KestrelTestSupport
import XCTest

/// Issue 6 kind 8 (one bad input must not end the run): concurrent image decodes share a memory
/// budget, so a folder of huge images is decoded one or two at a time instead of all at once
/// (which ended an ingest in SIGABRT "failed to allocate").
final class DecodeBudgetTests: XCTestCase {
    /// Many threads reserve random amounts, some larger than the whole budget: the bytes held
    /// at once never exceed the capacity, and an oversized reservation always runs alone.
    func testKind8_budgetNeverHoldsMoreThanItsCapacityAcrossThreads() {
        let budget = MemoryBudget(capacity: 100)
        final class Watch: @unchecked Sendable {
            let lock = NSLock()
            var held = 0, running = 0, maxHeld = 0, violations: [String] = []
        }
        let watch = Watch()
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            var rng = SystemRandomNumberGenerator()
            for k in 0..<300 {
                let size = k % 17 == 0 ? 150 : Int.random(in: 0...60, using: &rng)
                let charged = min(max(size, 1), 100)
                budget.withReservation(size) {
                    watch.lock.lock()
                    watch.held += charged; watch.running += 1
                    watch.maxHeld = max(watch.maxHeld, watch.held)
                    if watch.held > 100 { watch.violations.append("held \(watch.held)") }
                    if size > 100 && watch.running != 1 { watch.violations.append("oversized with \(watch.running) running") }
                    watch.lock.unlock()
                    for _ in 0..<(thread * 50) { sched_yield() }
                    watch.lock.lock()
                    watch.held -= charged; watch.running -= 1
                    watch.lock.unlock()
                }
            }
        }
        XCTAssertEqual(watch.violations, [])
        XCTAssertLessThanOrEqual(watch.maxHeld, 100)
        XCTAssertEqual(budget.bytesInUse, 0)
    }

    /// A reservation is given back when its body throws.
    func testKind8_throwingWorkGivesItsBytesBack() {
        struct Boom: Error {}
        let budget = MemoryBudget(capacity: 10)
        XCTAssertThrowsError(try budget.withReservation(7) { throw Boom() })
        XCTAssertEqual(budget.bytesInUse, 0)
        XCTAssertEqual(budget.withReservation(10) { budget.bytesInUse }, 10)
    }

    /// With a budget smaller than any image, every image is decoded alone, and the vectors are
    /// exactly those of an embedder with the default budget; the 68-byte PNG that claims
    /// 13000 x 13000 fails alone, as truncated, and the others are embedded.
    func testKind8_embeddingInsideATinyBudgetGivesTheSameVectors() throws {
        let model = Fixtures.url("models/hf-tiny")
        let dir = Fixtures.temporaryDirectory("kestrel-budget")
        defer { try? FileManager.default.removeItem(at: dir) }
        let fake = dir.appendingPathComponent("fake.png")
        let ihdr: [UInt8] = [0, 0, 0x32, 0xC8, 0, 0, 0x32, 0xC8, 8, 2, 0, 0, 0]
        // A valid 68-byte PNG header + IDAT + IEND (CRCs correct), as the try-out made it.
        let fakeBytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8) + ihdr
            + [0x6D, 0xC0, 0x7F, 0x6F] + [0, 0, 0, 11] + Array("IDAT".utf8)
            + [0x78, 0x9C, 0x63, 0x60, 0x80, 0x01, 0x00, 0x00, 0x0A, 0x00, 0x01, 0x7F, 0x80, 0x74, 0x5E]
            + [0, 0, 0, 0] + Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82]
        try Data(fakeBytes).write(to: fake)
        let samples = ["circles/red_circle.png", "circles/green_circle.jpg", "squares/blue_square.jpg"].map {
            FilePathBytes(Fixtures.repoRoot.appendingPathComponent("samples/images/\($0)").path)
        }
        let paths = samples + [FilePathBytes(fake.path)]
        let tiny = try Embedder(modelDirectory: model, decodeMemory: 1)
        let normal = try Embedder(modelDirectory: model)
        let a = tiny.embedImages(paths), b = normal.embedImages(paths)
        for i in 0..<3 { XCTAssertEqual(try a[i].get(), try b[i].get()) }
        guard case .failure(let error) = a[3], case .truncated? = error as? ImageError else { return XCTFail("\(a[3])") }
        XCTAssertEqual(tiny.decodeBudget.bytesInUse, 0)
        XCTAssertThrowsError(try Embedder(modelDirectory: model, decodeMemory: 0))
    }
}
