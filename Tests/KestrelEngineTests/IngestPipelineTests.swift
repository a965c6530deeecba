// Issue 7, item 4: the overlapped ingest (decode threads feeding the encoder) stores what the
// sequential order of work stores, batch by batch, and a file that fails is one failed entry.
import Foundation
import KestrelEngine
import KestrelTestSupport
import XCTest

final class IngestPipelineTests: XCTestCase {
    /// A folder of photo-like JPEGs (large enough to be reduced for the tiny model), PNGs, a
    /// duplicate, and `bad` files that are not images, in name order between the good ones.
    func folder(bad: [String] = []) throws -> URL {
        let images = Fixtures.temporaryDirectory("kestrel-pipeline-images")
        for i in 0..<7 {
            var px = [UInt8](repeating: 0, count: 320 * 240 * 3)
            var state = UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15
            for k in px.indices {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                px[k] = UInt8(truncatingIfNeeded: (k % 960) / 4 + i * 30 + Int((state >> 33) % 16))
            }
            let jpeg = try JPEGWriter.encode(px, width: 320, height: 240, channels: 3, quality: 90, exifOrientation: i == 3 ? 6 : nil)
            try Data(jpeg).write(to: images.appendingPathComponent(String(format: "p%02d.jpg", 2 * i)))
        }
        for name in ["red_circle.png", "blue_circle.png"] {
            try FileManager.default.copyItem(at: Fixtures.repoRoot.appendingPathComponent("samples/images/circles/\(name)"),
                                             to: images.appendingPathComponent(name))
        }
        try FileManager.default.copyItem(at: images.appendingPathComponent("p02.jpg"), to: images.appendingPathComponent("p03.jpg"))
        for name in bad { try Data("not a jpeg at all".utf8).write(to: images.appendingPathComponent(name)) }
        return images
    }

    func ingest(_ images: URL, embedder: Embedder, threads: Int, batch: Int) throws -> (IngestReport, [String: [Float]], Catalog) {
        let dir = Fixtures.temporaryDirectory("kestrel-pipeline")
        let catalog = try Catalog.openForWriting(dir.appendingPathComponent("ix"), identity: try ModelFingerprint.identity(of: embedder.model),
                                                 modelPath: embedder.model.directory.path, orientation: embedder.preprocessor.decoder.orientation)
        var options = IngestOptions()
        options.batchSize = batch
        options.decodeThreads = threads
        let report = try Ingestor(catalog: catalog, embedder: embedder, options: options).run([FilePathBytes(images.path)])
        var vectors: [String: [Float]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: images.path) {
            guard let record = try catalog.store.lookup(path: FilePathBytes(images.appendingPathComponent(name).path)),
                  let item = try catalog.store.item(id: record.id) else { continue }
            vectors[name] = try catalog.store.vector(id: item.id)
        }
        return (report, vectors, catalog)
    }

    func testPipelinedIngestStoresTheSameVectorsAsTheSequentialOrder() throws {
        let embedder = try Embedder(modelDirectory: Fixtures.url("models/hf-tiny"), jpegDecoding: .fast)
        let images = try folder()
        for batch in [1, 3, 32] {
            let (seqReport, sequential, _) = try ingest(images, embedder: embedder, threads: 0, batch: batch)
            XCTAssertEqual(sequential.count, 10)
            for threads in [1, 2, 3] {
                let (report, vectors, _) = try ingest(images, embedder: embedder, threads: threads, batch: batch)
                XCTAssertEqual(vectors, sequential, "threads \(threads), batch \(batch)")
                XCTAssertEqual(report.added, seqReport.added)
                XCTAssertEqual(report.duplicates, 1, "p03.jpg holds p02.jpg's bytes")
                XCTAssertEqual(report.failed.count, 0)
            }
        }
    }

    /// With `.exact`, ingest stores what `embedImages` gives for each file.
    func testExactModeIngestMatchesEmbedImages() throws {
        let embedder = try Embedder(modelDirectory: Fixtures.url("models/hf-tiny"), jpegDecoding: .exact)
        let images = try folder()
        let (_, vectors, _) = try ingest(images, embedder: embedder, threads: 2, batch: 4)
        XCTAssertEqual(vectors.count, 10)
        for (name, v) in vectors {
            let direct = try embedder.embedImages([FilePathBytes(images.appendingPathComponent(name).path)])[0].get()
            let cosine = zip(v, direct).map { Double($0) * Double($1) }.reduce(0, +)
            XCTAssertGreaterThan(cosine, 0.99999, name)  // batch of 4 vs batch of 1: GEMM blocking may differ in the last bits
        }
    }

    /// Files that cannot be decoded, in the middle of a batch, are one failed entry each; the rest
    /// of their batch is stored, and a second run adds nothing and retries only them.
    func testAFailingFileInTheMiddleOfABatchIsOneFailedEntry() throws {
        let embedder = try Embedder(modelDirectory: Fixtures.url("models/hf-tiny"))
        let images = try folder(bad: ["p05.jpg", "p09.jpg"])
        for threads in [0, 2] {
            let (report, vectors, catalog) = try ingest(images, embedder: embedder, threads: threads, batch: 4)
            XCTAssertEqual(report.failed.map { $0.path.lossyString }.sorted(),
                           ["p05.jpg", "p09.jpg"].map { images.appendingPathComponent($0).path }, "threads \(threads)")
            XCTAssertEqual(report.added, 9)
            XCTAssertEqual(vectors.count, 10)
            var options = IngestOptions()
            options.decodeThreads = threads
            let again = try Ingestor(catalog: catalog, embedder: embedder, options: options).run([FilePathBytes(images.path)])
            XCTAssertEqual(again.added, 0)
            XCTAssertEqual(again.failed.count, 2)
            XCTAssertEqual(again.unchanged, 10)
        }
    }
}
