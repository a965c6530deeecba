import Foundation
import KestrelEngine

/// The write side of the service: adds uploaded images to the catalog and removes items by id.
///
/// Every change runs on one serial queue of its own, one after another, so writes never
/// interleave and never occupy the threads searches run on (NIO's blocking pool): a slow upload
/// (a large image to decode, a disk that is slow to fsync) delays the writes behind it, never a
/// search. Searches wait only while the index itself changes: adding one vector takes the index's
/// write lock for that add (about as long as one search); a removal also compacts the index under
/// that lock, which on a large index holds searches for a moment.
///
/// Durability: an upload is answered only after (1) its bytes are in `DIR/uploads/<sha256>.<ext>`,
/// fsynced and renamed, with the folder fsynced, and (2) the store transaction that records the
/// item (path, hash, size, vector, metadata) has committed (LMDB syncs at commit). The index is
/// updated in memory at once and saved by `IndexSaver` (at most every 30 s); after a crash the next
/// open catches the index up from the store's change log (`Catalog.open`), so an acknowledged
/// item is never lost and the store and index agree again.
public final class UploadStore: Sendable {
    public let service: SearchService
    public let folder: UploadFolder
    /// The key write requests must present; nil when the service is not writable
    /// (`SearchService.isWritable`).
    public let key: APIKey?
    /// One queue for the process: two writers over one catalog (two routers) still take turns.
    private static let queue = DispatchQueue(label: "kestrel.writes")
    /// Called on the write queue after an upload's file is written and before its store
    /// transaction (tests hold a write there to show searches do not wait for it).
    let beforeStore: (@Sendable () -> Void)?

    /// The writer for `service`, requiring `service.configuration.apiKey`. When the service is
    /// not writable (`SearchService.isWritable`: no key, an empty one, or a catalog opened
    /// read-only) every write is answered 403 `read_only`.
    public convenience init(service: SearchService) {
        self.init(service: service, beforeStore: nil)
    }

    init(service: SearchService, beforeStore: (@Sendable () -> Void)?) {
        self.service = service
        folder = UploadFolder(indexFolder: service.catalog.location)
        key = service.isWritable ? service.configuration.apiKey.flatMap { try? APIKey($0) } : nil
        self.beforeStore = beforeStore
    }

    /// What an upload did.
    public struct Added: Sendable, Equatable {
        /// The item's id.
        public var id: UInt64
        /// The content was already stored (under this id): nothing was written.
        public var duplicate: Bool
        /// The item's path (for a new upload, `DIR/uploads/<sha256>.<ext>`).
        public var path: FilePathBytes
    }

    /// Stores an uploaded image (see the type for what is durable when this returns). Content
    /// already in the store is answered with its existing id and `duplicate` true, and nothing
    /// changes (its metadata is kept). `metadata`: a JSON object's text (see `metadataText`).
    /// Throws `APIError`: 400 `bad_image` (not a JPEG or PNG, undecodable, truncated; no file is
    /// left behind), 400 `limit_exceeded` naming `image_pixels`, 403 `read_only` when the catalog
    /// was opened read-only, 409 `settings_mismatch` when the loaded model cannot make vectors
    /// that compare with the stored ones; store and file errors as they are (a full disk...).
    public func add(_ bytes: [UInt8], metadata: String?) async throws -> Added {
        try await serially { [self] in try addNow(bytes, metadata: metadata) }
    }

    /// Removes the item `id` (every path of it) from the store, then from the index; its upload
    /// file is deleted when it lives in `DIR/uploads` (files of ingested folders are never
    /// touched). Throws `APIError` 404 `not_found` for an unknown id, 403 `read_only`.
    public func remove(id: UInt64) async throws {
        try await serially { [self] in try removeNow(id: id) }
    }

    /// Runs `body` on the write queue and waits for it without holding a thread.
    func serially<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            UploadStore.queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    private func requireWritable() throws {
        guard service.isWritable else { throw APIKey.readOnly }
    }

    private func addNow(_ bytes: [UInt8], metadata: String?) throws -> Added {
        try requireWritable()
        let catalog = service.catalog, store = catalog.store, embedder = service.embedder
        let hash = SHA256.hex(SHA256.hash(bytes))
        if let existing = try store.lookup(contentHash: hash), let path = existing.paths.first {
            return Added(id: existing.id, duplicate: true, path: path)
        }
        guard let kind = UploadFolder.Kind(magic: bytes) else {
            throw APIError.badRequest("bad_image", "the upload is not a JPEG or PNG image (its first bytes are neither format's signature)")
        }
        try requireMatchingSettings()
        // Decoded and embedded from memory before anything is written: a bad image leaves nothing.
        let prepared: PreparedImage
        do {
            prepared = try embedder.prepare(bytes: bytes, name: "the uploaded image")
        } catch let error as ImageError {
            throw ErrorMapping.apiError(for: error, limits: service.configuration.limits)
        }
        let vector = try embedder.embedPixels([prepared.pixels]).data
        let file = try folder.write(bytes, contentHash: hash, kind: kind)
        beforeStore?()
        let mtime = (try? FileSystem.status(file).mtimeNanoseconds) ?? Int64(Date().timeIntervalSince1970 * 1e9)
        let id: UInt64
        do {
            let results = try store.add([NewItem(path: file, contentHash: hash, fileSize: UInt64(bytes.count), mtimeNanoseconds: mtime,
                                                 width: prepared.width, height: prepared.height, embedding: vector, metadata: metadata)])
            id = results[0].id
        } catch {
            // Not stored: the file belongs to nothing (its content is in no item).
            try? folder.remove(file)
            throw error
        }
        // Stored and durable from here on; the index follows in memory.
        do {
            try catalog.indexAdded(ids: [id], vectors: vector, coveredSequence: try store.lastSequence)
        } catch {
            catalog.warn("the index could not take item \(id) (\(error)); catching it up from the store")
            _ = try? catalog.catchUp()
        }
        return Added(id: id, duplicate: false, path: file)
    }

    private func removeNow(id: UInt64) throws {
        try requireWritable()
        let catalog = service.catalog
        guard let item = try catalog.store.item(id: id) else { throw APIError.notFound("no item has id \(id)") }
        try catalog.remove(paths: item.paths)
        // The store no longer names these files; a crash before this leaves an unnamed file,
        // never a named one that is missing.
        for path in item.paths where folder.holds(path) {
            do { try folder.remove(path) } catch { catalog.warn("item \(id) was removed, but its upload file could not be deleted: \(error)") }
        }
    }

    /// The stored vectors were made with one orientation, precision and JPEG decoding: an upload
    /// embedded otherwise would not compare with them.
    private func requireMatchingSettings() throws {
        let catalog = service.catalog, embedder = service.embedder
        do {
            try catalog.requireOrientation(embedder.preprocessor.decoder.orientation)
            try catalog.requirePrecision(embedder.model.precision)
            try catalog.requireJPEGDecoding(embedder.preprocessor.decoder.jpegDecoding)
        } catch let error as EngineError {
            catalog.warn("an upload was refused: \(error)")
            throw APIError(.conflict, code: "settings_mismatch",
                           "uploads cannot be added: the server's image settings (EXIF orientation, precision, JPEG decoding)"
                           + " differ from those the index's vectors were made with (the server log names them)")
        }
    }
}

extension UploadStore {
    /// Longest display name, in Unicode scalars.
    public static let maxNameScalars = 256
    /// Most bytes of an upload's `metadata` field (a 400 naming `metadata_bytes` past it).
    public static let maxMetadataBytes = 64 << 10

    /// The metadata an upload stores, from its multipart fields: `metadata` must be a JSON
    /// object as search `filters` read it (`JSONValue`, Foundation's `JSONDecoder`: what is stored
    /// is what a filter compares with), and every number in it must survive that reading exactly:
    /// finite, and an integer no larger in magnitude than 2^53 (a larger one would be stored as
    /// a neighbouring value and match filters for other numbers). Anything else: 400
    /// `bad_request` naming the field. `name` (a display name, never a path: at most
    /// `maxNameScalars` scalars, no control characters) is stored in it as `"name"` unless the
    /// object already has one. nil when neither is given.
    public static func metadataText(fields: [String: String]) throws -> String? {
        var object: [String: JSONValue]?
        var text = fields["metadata"]
        if let given = text {
            // Stored with the item and read by every filtered search that meets it: bounded.
            guard given.utf8.count <= maxMetadataBytes else {
                throw APIError.overLimit("metadata_bytes", maxMetadataBytes,
                                         "the field \"metadata\" holds \(given.utf8.count) bytes; the limit is \(maxMetadataBytes)")
            }
            if let number = inexactNumber(in: given) {
                throw APIError.badRequest("bad_request", "the field \"metadata\" holds the number \(number.prefix(40)), which a"
                                          + " 64-bit float cannot hold exactly (numbers must be finite, integers at most 2^53 in magnitude):"
                                          + " send it as a string")
            }
            guard let parsed = JSONValue.parse(given) else {
                throw APIError.badRequest("bad_request", "the field \"metadata\" is not valid JSON: it must be a JSON object")
            }
            guard case .object(let dictionary) = parsed else {
                throw APIError.badRequest("bad_request", "the field \"metadata\" must be a JSON object ({\"key\": value, ...}), got \(parsed.typeName)")
            }
            object = dictionary
        }
        if let name = fields["name"] {
            guard !name.isEmpty, name.unicodeScalars.count <= maxNameScalars else {
                throw APIError.badRequest("bad_request", "the field \"name\" must hold 1 to \(maxNameScalars) characters")
            }
            guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw APIError.badRequest("bad_request", "the field \"name\" must not hold control characters")
            }
            if object?["name"] == nil {
                var merged = object ?? [:]
                merged["name"] = .string(name)
                text = String(decoding: try JSONOutput.encode(JSONValue.object(merged)), as: UTF8.self)
            }
        }
        return text
    }

    /// The first number token of the JSON text `json` that a `Double` does not hold exactly (not
    /// finite, or an integer past 2^53 in magnitude), or nil. Strings are skipped.
    static func inexactNumber(in json: String) -> Substring? {
        let utf8 = json.utf8
        var i = utf8.startIndex
        var inString = false, escaped = false
        while i < utf8.endIndex {
            let c = utf8[i]
            if inString {
                if escaped { escaped = false } else if c == UInt8(ascii: "\\") { escaped = true } else if c == UInt8(ascii: "\"") { inString = false }
                i = utf8.index(after: i)
                continue
            }
            if c == UInt8(ascii: "\"") {
                inString = true
                i = utf8.index(after: i)
                continue
            }
            guard c == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) else {
                i = utf8.index(after: i)
                continue
            }
            let start = i
            while i < utf8.endIndex, "0123456789+-.eE".utf8.contains(utf8[i]) { i = utf8.index(after: i) }
            let token = json[start..<i]
            if !token.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
                // An integer: exact in a Double up to 2^53 (a larger one rounds to a neighbour).
                guard let integer = Int64(token), integer.magnitude <= 1 << 53 else { return token }
            } else if let value = Double(token), !value.isFinite {
                return token  // 1e400: no Double holds it
            }
        }
        return nil
    }
}
