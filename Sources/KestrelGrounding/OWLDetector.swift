import Foundation
import KestrelEngine
import KestrelImage

/// OWL-ViT / OWLv2 open-vocabulary detection (SKELETON: the owl helper replaces this file).
public final class OWLDetector: Grounder {
    public let kind: String
    public let defaultThreshold: Float = 0.1
    public init(directory: URL, precision: Precision = .fp32) throws {
        kind = GrounderLoader.modelType(directory) ?? "owlvit"
        throw GroundingError.unsupportedModel(folder: directory.path, reason: "OWL-ViT is not built yet")
    }
    public func ground(_ image: DecodedImage, queries: [GroundingQuery], options: GroundingOptions) throws -> GroundingResult {
        throw GroundingError.unsupportedModel(folder: "", reason: "OWL-ViT is not built yet")
    }
}
