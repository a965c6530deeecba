import Foundation
import KestrelEngine
import KestrelModels

/// How a CLIP model's dense heat map is made (`DenseCLIPGrounder`); OWL detectors have heads instead.
public struct DenseGroundingSettings: Sendable, Equatable {
    public var method: DenseMethod
    public var fit: SquareFit
    public var refine: Bool

    /// The measured defaults (docs/grounding.md): MaskCLIP, resize to a square, no refinement.
    public init(method: DenseMethod = .standard, fit: SquareFit = .resize, refine: Bool = false) {
        self.method = method; self.fit = fit; self.refine = refine
    }
}

/// Opens a model folder as a `Grounder`: a folder whose config.json says `"model_type": "owlvit"`
/// or `"owlv2"` runs `OWLDetector`; any CLIP folder (Hugging Face or open_clip layout, the
/// default model included) runs `DenseCLIPGrounder`.
public enum GrounderLoader {
    /// The model types `OWLDetector` runs.
    public static let detectorTypes: Set<String> = ["owlvit", "owlv2"]

    /// The detector's `model_type` ("owlvit", "owlv2") when `folder` holds an OWL detector, nil
    /// when it is to be read as CLIP. Throws `ModelError` for a config.json that cannot be read
    /// safely (a FIFO, a device, too large, not JSON).
    public static func detectorType(_ folder: URL) throws -> String? {
        try ModelFiles.modelType(of: folder).flatMap { detectorTypes.contains($0) ? $0 : nil }
    }

    /// `dense` applies to CLIP folders only (nil: the defaults). Throws `GroundingError.unsupportedModel`
    /// when dense settings are given for a detector, else `ModelError`/`GroundingError` naming the
    /// file or field that is wrong.
    public static func load(_ folder: URL, precision: Precision = .fp32, dense: DenseGroundingSettings? = nil) throws -> any Grounder {
        if let type = try detectorType(folder) {
            if dense != nil {
                throw GroundingError.unsupportedModel(
                    folder: folder.path,
                    reason: "it is an \(type) detector, whose own heads give the boxes; the dense-map settings (method, fit, refine) apply to CLIP models only")
            }
            return try OWLDetector(directory: folder, precision: precision)
        }
        let s = dense ?? DenseGroundingSettings()
        return try DenseCLIPGrounder(embedder: Embedder(modelDirectory: folder, precision: precision),
                                     method: s.method, fit: s.fit, refine: s.refine)
    }
}
