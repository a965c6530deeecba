import Foundation
import KestrelEngine
import KestrelImage

/// Training-free dense grounding for any CLIP checkpoint (SKELETON: the dense helper replaces this file).
public final class DenseCLIPGrounder: Grounder {
    public let kind = "dense-clip"
    public let defaultThreshold: Float = 0.5
    public let embedder: Embedder
    public init(embedder: Embedder) throws { self.embedder = embedder }
    public func ground(_ image: DecodedImage, queries: [GroundingQuery], options: GroundingOptions) throws -> GroundingResult {
        throw GroundingError.unsupportedModel(folder: embedder.model.directory.path, reason: "dense CLIP is not built yet")
    }
}
