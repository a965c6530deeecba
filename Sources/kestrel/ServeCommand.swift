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
            and GET /openapi.json. Write endpoints (POST /v1/items, DELETE /v1/items/ID) need an API
            key, from $KESTREL_API_KEY or the first line of --api-key-file; with a key the index is
            opened for writing (no other writer may run), without one the service is read-only.
            Without a key, changes another process makes to the index (kestrel index add, remove,
            rebuild) are taken in every 2 seconds. An upload is answered only once its file and its
            store record are on disk. SIGTERM or SIGINT: the requests in flight are answered, the
            index is saved, and the exit status is 0.
            """)

    @Option(name: .long, help: ArgumentHelp(defaultIndexHelp)) var index = "Indexes/default"
    @Option(name: .long, help: "Address to listen on.") var host = "127.0.0.1"
    @Option(name: .long, parsing: .unconditional, help: "Port to listen on (0: any free port, printed at start).") var port = 8080
    @Option(name: .long, help: "Model folder (default: the one the index was built with).") var model: String?
    @Option(name: .long, help: "File whose first line is the API key for the write endpoints (or set $KESTREL_API_KEY).")
    var apiKeyFile: String?
    @Option(name: .long, parsing: .unconditional, help: "Largest request body, bytes.") var maxBodyBytes = ServerLimits().maxBodyBytes
    @Option(name: .long, parsing: .unconditional, help: "Largest JSON request body (search, embed...), bytes.")
    var maxJSONBodyBytes = ServerLimits().maxJSONBodyBytes
    @Option(name: .long, parsing: .unconditional, help: "Largest image, width x height as its header claims (checked before decoding).")
    var maxImagePixels = ServerLimits().maxImagePixels
    @Option(name: .long, parsing: .unconditional, help: "Largest k (results per search).") var maxK = ServerLimits().maxK
    @Option(name: .long, parsing: .unconditional, help: "Longest text query or label, in characters (Unicode scalars).")
    var maxQueryCharacters = ServerLimits().maxQueryCharacters
    @Option(name: .long, parsing: .unconditional, help: "Most texts, labels, query terms or ids in one request.")
    var maxBatch = ServerLimits().maxBatch
    @Option(name: .long, parsing: .unconditional, help: "Seconds a request may run before it is answered 503.")
    var requestTimeout = ServerLimits().requestTimeout
    @Option(name: .customLong("cors-origin"), help: "Allow browser pages from this origin (scheme://host[:port]); repeat for more. Default: no CORS.")
    var corsOrigins: [String] = []
    @Option(name: .long, parsing: .unconditional, help: "Seconds the text-query batcher waits for more queries once one arrives.")
    var batchWindow = ServerConfiguration().batchWindow
    @Option(name: .long, parsing: .unconditional, help: "Most text queries sent to the text tower at once.")
    var maxEncoderBatch = ServerConfiguration().maxEncoderBatch
    @Option(name: .long, parsing: .unconditional,
            help: "Seconds a connection may stay idle, or a request head or body stall, before it is closed.")
    var idleTimeout = ServerConfiguration().idleTimeout
    @Option(name: .long, parsing: .unconditional,
            help: "With a key: least seconds between saves of the index file (when it changed; and at shutdown).")
    var indexSaveInterval = Double(IndexSaver.defaultInterval.components.seconds)
    @Flag(name: .long, help: "Put query text in the request log (never image bytes). Default: no query text is logged.")
    var logQueries = false
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp(
        "Kernel threads per request (the towers' products and row kernels), 1 to \(BenchCommand.maxThreads).",
        discussion: "Default 1: requests run side by side on the blocking pool, one per core. Measured (docs/benchmarks.md, \"Service\"): on a quiet machine 1 and 2 are alike; with other work on the cores, 1 served 236 against 164-189 req/s."))
    var threads = 1

    /// Bounds of the numeric options (a limit of 0 would refuse everything; the upper bounds keep
    /// a typo from turning a limit off).
    static let bounds: [(option: String, range: ClosedRange<Int>)] = [
        ("--max-body-bytes", 1...(Int(Int32.max))),
        ("--max-json-body-bytes", 1...(Int(Int32.max))),
        ("--max-image-pixels", 1...(1 << 40)),
        ("--max-k", 1...1_000_000),
        ("--max-query-characters", 1...1_000_000),
        ("--max-batch", 1...100_000),
    ]

    func validate() throws {
        try validateIndexOption(index)
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535, got \(port)") }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace) else { throw ValidationError("--host needs an address or host name, got '\(host)'") }
        if model == "" { throw ValidationError("--model needs a folder name; '' names none") }
        if apiKeyFile == "" { throw ValidationError("--api-key-file needs a file name; '' names none") }
        for ((option, range), value) in zip(Self.bounds, [maxBodyBytes, maxJSONBodyBytes, maxImagePixels, maxK, maxQueryCharacters, maxBatch])
        where !range.contains(value) {
            throw ValidationError("\(option) must be \(range.lowerBound)...\(range.upperBound), got \(value)")
        }
        guard requestTimeout.isFinite, requestTimeout > 0, requestTimeout <= 86_400 else {
            throw ValidationError("--request-timeout must be a number of seconds above 0 and at most 86400, got \(requestTimeout)")
        }
        guard batchWindow.isFinite, batchWindow >= 0, batchWindow <= 1 else {
            throw ValidationError("--batch-window must be a number of seconds from 0 to 1, got \(batchWindow)")
        }
        guard (1...BenchCommand.maxThreads).contains(threads) else {
            throw ValidationError("--threads must be 1...\(BenchCommand.maxThreads), got \(threads)")
        }
        guard idleTimeout.isFinite, idleTimeout >= 1, idleTimeout <= 3600 else {
            throw ValidationError("--idle-timeout must be a number of seconds from 1 to 3600, got \(idleTimeout)")
        }
        guard indexSaveInterval.isFinite, indexSaveInterval >= 1, indexSaveInterval <= 86_400 else {
            throw ValidationError("--index-save-interval must be a number of seconds from 1 to 86400, got \(indexSaveInterval)")
        }
        guard (1...1024).contains(maxEncoderBatch) else { throw ValidationError("--max-encoder-batch must be 1...1024, got \(maxEncoderBatch)") }
        for origin in corsOrigins where !Self.isOrigin(origin) {
            throw ValidationError("--cors-origin must be an origin, scheme://host[:port] with scheme http or https and no path"
                                  + " (e.g. https://app.example.com), got '\(Console.field(origin))'")
        }
        do { try APIKey.requireOneSource(file: apiKeyFile) } catch { throw ValidationError("\(error)") }
    }

    /// `http(s)://host[:port]`, as a browser sends it in `Origin`.
    static func isOrigin(_ text: String) -> Bool {
        guard let schemeEnd = text.range(of: "://") else { return false }
        let scheme = text[..<schemeEnd.lowerBound], rest = text[schemeEnd.upperBound...]
        guard scheme == "http" || scheme == "https", !rest.isEmpty else { return false }
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: ".-:[]"))
        return rest.unicodeScalars.allSatisfy { $0.isASCII && allowed.contains($0) } && !rest.hasPrefix(":") && !rest.hasSuffix(":")
    }

    var limits: ServerLimits {
        var l = ServerLimits()
        l.maxBodyBytes = maxBodyBytes
        l.maxJSONBodyBytes = maxJSONBodyBytes
        l.maxImagePixels = maxImagePixels
        l.maxK = maxK
        l.maxQueryCharacters = maxQueryCharacters
        l.maxBatch = maxBatch
        l.requestTimeout = requestTimeout
        return l
    }

    func run() throws {
        try reportingErrors {
            let key = try APIKey.load(file: apiKeyFile)
            let dir = RawArguments.absolutePath(index)
            if !FileSystem.exists(dir) {
                throw CommandFailure(message: "the index folder \(dir.description) does not exist; create an index with"
                                     + " `kestrel index add --index \(dir.description) --model MODEL PATH...`")
            }
            Kernels.threads = threads
            // A key means writes: the writer lock is taken, so no `kestrel index add` runs beside the server.
            let catalog = try Catalog.open(dir, writable: key != nil, warn: { Console.warning($0) })
            // At the catalog's orientation, precision and JPEG decoding, as uploads must be embedded.
            let embedder = try makeEmbedder(catalog)
            var configuration = ServerConfiguration()
            configuration.host = host
            configuration.port = port
            configuration.limits = limits
            configuration.apiKey = key
            configuration.corsOrigins = corsOrigins
            configuration.logQueries = logQueries
            configuration.batchWindow = batchWindow
            configuration.maxEncoderBatch = maxEncoderBatch
            configuration.idleTimeout = idleTimeout
            let service = try SearchService(catalog: catalog, embedder: embedder, configuration: configuration)
            let logger = Logger(label: "kestrel.serve")
            let shownHost = host.contains(":") ? "[\(host)]" : host
            let mode = service.isWritable ? "writable" : "read-only"
            // ArgumentParser's root command here is synchronous (Kestrel.main): this blocks until the server stops.
            try ServeLifecycle.runBlocking(service: service, logger: logger,
                                           saveInterval: .milliseconds(Int64((indexSaveInterval * 1000).rounded()))) { bound in
                Console.say("serving \(catalog.location.description) (\(mode)) on http://\(shownHost):\(bound)/")
            }
        }
    }

    /// The model the index was made with (or --model), at the index's precision, orientation and
    /// JPEG decoding, refusing images past --max-image-pixels from their header.
    func makeEmbedder(_ catalog: Catalog) throws -> Embedder {
        let folder: String
        if let model {
            folder = model
        } else {
            guard let recorded = catalog.modelPath else { throw ValidationError("the index does not record its model: pass --model") }
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: recorded, isDirectory: &isFolder), isFolder.boolValue else {
                throw ValidationError("the model folder recorded in this index, \(PathText.escape(Array(recorded.utf8))), is gone;"
                                      + " pass --model DIR (the folder the model moved to, or a copy of it)")
            }
            folder = recorded
        }
        return try SearchService.makeEmbedder(modelDirectory: URL(fileURLWithPath: folder), catalog: catalog, limits: limits)
    }
}
