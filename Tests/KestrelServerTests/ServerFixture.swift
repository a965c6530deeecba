import Foundation
import KestrelEngine
import KestrelFiles
import KestrelServer
import KestrelTestSupport

/// A served catalog for in-process route tests: the shipped default model over the repo's
/// sample images (samples/images), built in a fresh temporary folder.
struct ServerFixture {
    let directory: URL
    let catalog: Catalog
    let embedder: Embedder
    let service: SearchService

    /// `writable`: the catalog is opened for writing (write routes work with `apiKey`).
    static func make(configuration: ServerConfiguration = ServerConfiguration(), images: [String] = ["samples/images"]) throws -> ServerFixture {
        guard let model = DefaultModel.locate() else { throw FixtureError("the default model is missing from this checkout") }
        let dir = Fixtures.temporaryDirectory("kestrel-server")
        let embedder = try Embedder(modelDirectory: model)
        let identity = try ModelFingerprint.identity(of: embedder.model)
        let catalog = try Catalog.openForWriting(dir, identity: identity, modelPath: model.path, orientation: .exif,
                                                 precision: embedder.model.precision,
                                                 jpegDecoding: embedder.preprocessor.decoder.jpegDecoding)
        let roots = images.map { FilePathBytes(Fixtures.repoRoot.appendingPathComponent($0).path) }
        _ = try Ingestor(catalog: catalog, embedder: embedder).run(roots)
        // The server's own embedder, as `kestrel serve` makes it (pixel limit from the limits).
        let served = try SearchService.makeEmbedder(modelDirectory: model, catalog: catalog, limits: configuration.limits)
        let service = try SearchService(catalog: catalog, embedder: served, configuration: configuration)
        return ServerFixture(directory: dir, catalog: catalog, embedder: embedder, service: service)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
