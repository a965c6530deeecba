import Foundation
import Hummingbird

/// The web page: `/` and the files under `/static/`, from the fixed list below (no request value
/// is ever used as a path).
enum WebPageRoutes {
    static let files: [(route: String, resource: String, type: String)] = [
        ("/", "web/index.html", "text/html; charset=utf-8"),
    ]

    static func register(on router: Router<KestrelHTTP.Context>, service: SearchService) {
        for file in files {
            router.get(RouterPath(file.route)) { _, _ in
                guard let data = ServedFiles.data(file.resource) else {
                    throw APIError(.internalServerError, code: "internal", "\(file.resource) is missing from this build's resources")
                }
                var headers = HTTPFields()
                headers[.contentType] = file.type
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
            }
        }
    }
}
