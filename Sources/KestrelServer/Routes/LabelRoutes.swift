import Foundation
import Hummingbird
import KestrelEngine

/// `POST /v1/label`: zero-shot labels for an uploaded image. Multipart: part `image`, field
/// `labels` (a JSON array of strings), optional field `templates` (a JSON array of strings with
/// one `{}` each; default: the model's prompt ensemble). Or a raw image body with
/// `?labels=a,b,c`. Answers `{"labels": [{"label", "probability", "cosine"}] best first, "best", "model"}`.
enum LabelRoutes {
    struct Entry: Encodable, Sendable { var label: String; var probability: Float; var cosine: Float }
    struct Answer: Encodable, Sendable { var labels: [Entry]; var best: String; var model: ModelInfo }

    static func register(on router: Router<KestrelHTTP.Context>, service: SearchService) {
        router.post("/v1/label", use: Deadline.wrap(service) { request, _ -> Response in
            let limits = service.configuration.limits
            let upload = try await ImageUpload.read(request, limits: limits)
            let labels: [String]
            if let field = upload.fields["labels"] {
                labels = try stringArray(field, field: "labels")
            } else if let query = request.uri.queryParameters["labels"] {
                labels = query.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: .whitespaces) }
            } else {
                throw APIError.badRequest("bad_request", "\"labels\" is missing: send a multipart field labels=[\"cat\",\"dog\"] or ?labels=cat,dog")
            }
            guard !labels.isEmpty else { throw APIError.badRequest("bad_request", "\"labels\" must hold at least one label") }
            try QueryParsing.checkBatch(labels.count, field: "labels", limits: limits)
            for (i, l) in labels.enumerated() { _ = try QueryParsing.queryText(l, field: "labels[\(i)]", limits: limits) }
            guard Set(labels).count == labels.count else { throw APIError.badRequest("bad_request", "\"labels\" holds a label twice") }
            var templates = PromptTemplates.defaultEnsemble
            if let field = upload.fields["templates"] {
                templates = try stringArray(field, field: "templates")
                guard !templates.isEmpty else { throw APIError.badRequest("bad_request", "\"templates\" must hold at least one template") }
                try QueryParsing.checkBatch(templates.count, field: "templates", limits: limits)
                for (i, t) in templates.enumerated() { _ = try QueryParsing.queryText(t, field: "templates[\(i)]", limits: limits) }
            }
            try QueryParsing.checkBatch(labels.count * templates.count, field: "labels x templates",
                                        limits: ServerLimits.with(maxBatch: limits.maxBatch * PromptTemplates.defaultEnsemble.count, from: limits))
            RequestLogNote.current?.query = labels.joined(separator: ",")
            let image = try await service.imageVector(upload.bytes)
            let chosen = templates
            let result = try await service.offload { () -> (ZeroShotClassifier, LabelResult) in
                let classifier = try ZeroShotClassifier(embedder: service.embedder, labels: labels, templates: chosen)
                return (classifier, classifier.classify(image))
            }
            let (classifier, r) = result
            let order = r.probabilities.indices.sorted { r.probabilities[$0] > r.probabilities[$1] }
            return jsonResponse(Answer(labels: order.map { Entry(label: classifier.labels[$0], probability: r.probabilities[$0], cosine: r.cosines[$0]) },
                                       best: classifier.labels[r.best], model: ModelInfo(service.identity)))
        })
    }

    /// A multipart field holding a JSON array of strings.
    static func stringArray(_ text: String, field: String) throws -> [String] {
        guard case .array(let values)? = JSONValue.parse(text) else {
            throw APIError.badRequest("bad_request", "\"\(field)\" must be a JSON array of strings")
        }
        return try values.enumerated().map { i, v in
            guard case .string(let s) = v else { throw QueryParsing.wrongType("\(field)[\(i)]", "a string", v) }
            return s
        }
    }
}

extension ServerLimits {
    static func with(maxBatch: Int, from limits: ServerLimits) -> ServerLimits {
        var l = limits
        l.maxBatch = maxBatch
        return l
    }
}
