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
            let prompts = labels.count * templates.count
            guard prompts <= limits.maxLabelPrompts else {
                throw APIError.overLimit("label_prompts", limits.maxLabelPrompts,
                                         "\(labels.count) labels x \(templates.count) templates make \(prompts) prompts; the limit is \(limits.maxLabelPrompts)")
            }
            RequestLogNote.current?.query = labels.joined(separator: ",")
            let image = try await service.imageVector(upload.bytes)
            let classifier = try await cachedClassifier(labels: labels, templates: templates, service: service)
            let r = classifier.classify(image)
            let order = r.probabilities.indices.sorted { r.probabilities[$0] > r.probabilities[$1] }
            return try jsonResponse(Answer(labels: order.map { Entry(label: classifier.labels[$0], probability: r.probabilities[$0], cosine: r.cosines[$0]) },
                                       best: classifier.labels[r.best], model: ModelInfo(service.identity)))
        })
    }

    /// The classifier of `labels` and `templates`, from the service's cache (LRU by labels and
    /// templates) or built on the blocking pool (labels x templates text-tower passes) and cached.
    static func cachedClassifier(labels: [String], templates: [String], service: SearchService) async throws -> ZeroShotClassifier {
        let key = [labels, templates]
        if let cached = service.classifiers.withLock({ $0.get(key) }) { return cached }
        let built = try await service.offload { try ZeroShotClassifier(embedder: service.embedder, labels: labels, templates: templates) }
        service.classifiers.withLock { $0.put(key, built) }
        return built
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
    /// Most prompts (labels x templates) one label request may make the text tower embed:
    /// `maxBatch` x the default ensemble's template count (so `maxBatch` labels fit with the
    /// default templates). Name: `label_prompts` (shown in `/v1/info`).
    public var maxLabelPrompts: Int { maxBatch * PromptTemplates.defaultEnsemble.count }
}
