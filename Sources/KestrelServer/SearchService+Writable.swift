import Foundation
import KestrelEngine

extension SearchService {
    /// Whether this service accepts writes (`POST /v1/items`, `DELETE /v1/items/{id}`): it has a
    /// non-empty API key (`ServerConfiguration.apiKey`) and its catalog was opened for writing.
    /// Otherwise every write is answered 403 `read_only`, and `GET /v1/info` says `"writable": false`.
    /// The one place this is decided.
    public var isWritable: Bool {
        guard let key = configuration.apiKey, !key.isEmpty else { return false }
        return catalog.isWritable
    }
}
