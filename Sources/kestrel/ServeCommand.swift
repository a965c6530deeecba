import ArgumentParser
import Foundation
import KestrelEngine
import KestrelServer
import Logging

/// `kestrel serve`: the HTTP search service and web page over one index (docs/api.md).
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve an index over HTTP: the JSON API under /v1 and a search page at /.",
        discussion: """
            The model the index was built with is loaded once. Routes, limits and errors: docs/api.md
            and GET /openapi.json. Write endpoints (upload, remove) need an API key from
            $KESTREL_API_KEY or --api-key-file; without one the service is read-only.
            """)

    @Option(name: .long, help: ArgumentHelp(defaultIndexHelp)) var index = "Indexes/default"
    @Option(name: .long, help: "Address to listen on.") var host = "127.0.0.1"
    @Option(name: .long, parsing: .unconditional, help: "Port to listen on (0: any free port, printed at start).") var port = 8080
    @Option(name: .long, help: "Model folder (default: the one the index was built with).") var model: String?

    func validate() throws {
        try validateIndexOption(index)
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535, got \(port)") }
    }

    func run() throws {
        try reportingErrors {
            let dir = try RawArguments.absolutePath(index)
            let catalog = try Catalog.open(dir, warn: { Console.warning($0) })
            guard let recorded = catalog.modelPath ?? model else { throw ValidationError("the index does not record its model: pass --model") }
            let embedder = try Embedder(modelDirectory: URL(fileURLWithPath: model ?? recorded), precision: catalog.precision,
                                        jpegDecoding: catalog.jpegDecoding ?? Embedder.defaultJPEGDecoding)
            var configuration = ServerConfiguration()
            configuration.host = host
            configuration.port = port
            let service = try SearchService(catalog: catalog, embedder: embedder, configuration: configuration)
            let logger = Logger(label: "kestrel.serve")
            let app = KestrelHTTP.makeApplication(service: service, logger: logger) { bound in
                Console.say("serving \(catalog.location.description) on http://\(service.configuration.host):\(bound)/")
            }
            let done = DispatchSemaphore(value: 0)
            let failure = LockedBox<Error?>(nil)
            Task {
                do { try await app.runService() } catch { failure.value = error }
                done.signal()
            }
            done.wait()
            if let error = failure.value { throw error }
        }
    }
}

/// A value shared between a task and the thread that waits for it.
final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}
