import Foundation
import KestrelImage

/// A box in an image's own pixel coordinates (the original picture, after EXIF orientation):
/// (x0, y0) the top-left corner, (x1, y1) the bottom-right, y down, in pixels; x0 <= x1, y0 <= y1.
public struct PixelBox: Sendable, Equatable, Codable {
    public var x0: Double, y0: Double, x1: Double, y1: Double
    public init(x0: Double, y0: Double, x1: Double, y1: Double) {
        self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1
    }
    public var width: Double { max(0, x1 - x0) }
    public var height: Double { max(0, y1 - y0) }
    public var area: Double { width * height }
    public var centre: (x: Double, y: Double) { ((x0 + x1) / 2, (y0 + y1) / 2) }
    public var array: [Double] { [x0, y0, x1, y1] }

    /// Intersection over union, 0 when either box is empty.
    public func iou(_ o: PixelBox) -> Double {
        let iw = max(0, min(x1, o.x1) - max(x0, o.x0)), ih = max(0, min(y1, o.y1) - max(y0, o.y0))
        let inter = iw * ih, union = area + o.area - inter
        return union > 0 ? inter / union : 0
    }

    /// Whether the point lies inside or on the edge.
    public func contains(x: Double, y: Double) -> Bool { x >= x0 && x <= x1 && y >= y0 && y <= y1 }

    /// The box clipped to a width x height picture.
    public func clipped(width w: Int, height h: Int) -> PixelBox {
        PixelBox(x0: min(max(x0, 0), Double(w)), y0: min(max(y0, 0), Double(h)),
                 x1: min(max(x1, 0), Double(w)), y1: min(max(y1, 0), Double(h)))
    }
}

/// What to look for: a text, or an example picture. For OWL-ViT / OWLv2 an image query is the
/// query picture's best box embedding (transformers' `image_guided_detection`); for dense CLIP it
/// is the query picture's image embedding.
public enum GroundingQuery: Sendable {
    case text(String)
    case image(DecodedImage, name: String)

    /// How the query is shown in output: the text, or the image's name.
    public var label: String {
        switch self {
        case .text(let t): return t
        case .image(_, let name): return name
        }
    }

    /// The text quoted for an error message, cut to its first 60 characters ("...", and the length).
    public static func quoted(_ text: String) -> String {
        text.count <= 60 ? "'\(text)'" : "'\(text.prefix(60))...' (\(text.count) characters)"
    }
}

/// Settings of one grounding call.
public struct GroundingOptions: Sendable {
    /// The thresholds that mean something: scores are cosines (dense CLIP, -1...1) or
    /// probabilities (OWL, 0...1); outside, every box or none would pass.
    public static let thresholdRange: ClosedRange<Float> = -1...1
    /// Boxes scoring below are dropped; nil: the grounder's own default (`Grounder.defaultThreshold`).
    public var threshold: Float?
    /// Non-maximum suppression: of two boxes for the same query overlapping by more than this IoU,
    /// the lower-scoring one is dropped. 1 keeps every box.
    public var nmsIoU: Double
    /// At most this many boxes per query and image, best first.
    public var maxPerQuery: Int
    /// Return one heat map per query.
    public var heatmaps: Bool
    public init(threshold: Float? = nil, nmsIoU: Double = 0.3, maxPerQuery: Int = 10, heatmaps: Bool = false) {
        self.threshold = threshold; self.nmsIoU = nmsIoU; self.maxPerQuery = maxPerQuery; self.heatmaps = heatmaps
    }
}

/// One box found for one query.
public struct Detection: Sendable, Equatable {
    /// Index into the call's `queries`.
    public var query: Int
    /// In the original picture's pixels.
    public var box: PixelBox
    /// The grounder's score: a probability for OWL-ViT/OWLv2 (sigmoid of the logit); for dense
    /// CLIP the highest patch cosine to the query inside the box (see `DenseCLIPGrounder`; with
    /// refinement, the cosine of the box's crop embedding).
    public var score: Float
    public init(query: Int, box: PixelBox, score: Float) { self.query = query; self.box = box; self.score = score }
}

/// Scores on a grid of cells covering `region` of the original picture, row-major (y then x).
/// For a padded input (OWLv2) the region reaches past the picture's right or bottom edge.
public struct HeatMap: Sendable, Equatable {
    public var gridWidth: Int
    public var gridHeight: Int
    /// [gridHeight * gridWidth]
    public var values: [Float]
    /// The rectangle of the original picture the grid spans, in its pixels.
    public var region: PixelBox
    public init(gridWidth: Int, gridHeight: Int, values: [Float], region: PixelBox) {
        self.gridWidth = gridWidth; self.gridHeight = gridHeight; self.values = values; self.region = region
    }
}

/// The answer for one picture.
public struct GroundingResult: Sendable {
    /// Best first over all queries, after the threshold and non-maximum suppression.
    public var detections: [Detection]
    /// One per query when `GroundingOptions.heatmaps`, else empty.
    public var heatmaps: [HeatMap]
    public init(detections: [Detection], heatmaps: [HeatMap]) { self.detections = detections; self.heatmaps = heatmaps }
}

/// Finds where in a picture each query is. Implementations: `OWLDetector` (OWL-ViT, OWLv2
/// checkpoints) and `DenseCLIPGrounder` (any CLIP checkpoint, training-free dense features).
/// Query embeddings are cached per text, so repeated queries cost only the image side.
public protocol Grounder: AnyObject, Sendable {
    /// "owlvit", "owlv2" or "dense-clip".
    var kind: String { get }
    /// The threshold used when `GroundingOptions.threshold` is nil.
    var defaultThreshold: Float { get }
    /// Boxes for every query in `image` (decoded, orientation applied).
    /// Throws `GroundingError` (bad query, model failure) naming what is wrong.
    func ground(_ image: DecodedImage, queries: [GroundingQuery], options: GroundingOptions) throws -> GroundingResult
    /// Throws `GroundingError.badQuery` for a text this grounder can never use (asked once, before
    /// any picture, so that the error is not repeated per picture).
    func check(text: String) throws
}

extension Grounder {
    public func check(text: String) throws {}
}
