import Foundation
import Hummingbird

/// The web page: `/` and the files under `/static/`, from the fixed list below (no request value
/// is ever used as a path). The page is plain HTML, CSS and JavaScript (Resources/web), calls
/// only this server's API, and loads nothing from elsewhere: the Content-Security-Policy header
/// says so to the browser.
enum WebPageRoutes {
    static let files: [(route: String, resource: String, type: String)] = [
        ("/", "web/index.html", "text/html; charset=utf-8"),
        ("/static/app.js", "web/app.js", "text/javascript; charset=utf-8"),
        ("/static/style.css", "web/style.css", "text/css; charset=utf-8"),
    ]

    /// Scripts, styles, fetches and fonts from this origin only; images also from `blob:` (the
    /// preview of a dropped image) and `data:`; no plugins, no framing, no `<base>`.
    static let contentSecurityPolicy =
        "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

    static func register(on router: Router<KestrelHTTP.Context>, service: SearchService) {
        for file in files {
            router.get(RouterPath(file.route)) { _, _ in
                guard let data = ServedFiles.data(file.resource) else {
                    throw APIError(.internalServerError, code: "internal", "\(file.resource) is missing from this build's resources")
                }
                var headers = HTTPFields()
                headers[.contentType] = file.type
                headers[.contentSecurityPolicy] = contentSecurityPolicy
                headers[.xContentTypeOptions] = "nosniff"
                headers[.cacheControl] = "no-cache"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
            }
        }
    }
}
