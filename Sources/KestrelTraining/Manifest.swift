import Foundation

/// One line of a dataset manifest (`manifest.jsonl` in a data folder built by `kestrel data build`;
/// format documented in docs/data.md). Paths are relative to the data folder.
public struct ManifestEntry: Codable, Sendable, Equatable {
    /// Image file, relative to the data folder (ASCII names written by `data build`).
    public var path: String
    /// One or more captions; training samples one per visit.
    public var captions: [String]
    /// "train", "test" (Fashion-MNIST's test split), or "heldout" (files or attribute combinations never trained on).
    public var split: String
    /// "fashion-mnist", "openclipart", "emoji", "scenes", "grounding" (`DataBuildOptions.allSources`).
    public var source: String
    /// Licence of the picture (SPDX-like: "MIT", "CC0-1.0", "OFL-1.1", ...).
    public var licence: String
    /// The class name where the source has one (Fashion-MNIST class, openclipart top-level folder,
    /// the emoji's name, a scene's caption); samples of one class are positives of each other.
    public var label: String?
    /// Scene attributes for evaluation ("shape", "colour", "count", ...); nil for other sources.
    public var attributes: [String: String]?
    /// Exact boxes of the objects in a rendered scene, in pixels of the stored image.
    public var boxes: [ManifestBox]?
    /// SHA-256 (hex) of the image file's bytes, so a run record pins the exact data.
    public var sha256: String?
    /// Positive group for soft targets: samples of one batch with the same group are positives
    /// of each other. Set where pictures of one group truly fit each other's captions
    /// (Fashion-MNIST: the class); nil: only samples with the same caption text are.
    public var group: String?

    public init(path: String, captions: [String], split: String, source: String, licence: String,
                label: String? = nil, attributes: [String: String]? = nil, boxes: [ManifestBox]? = nil,
                sha256: String? = nil, group: String? = nil) {
        self.path = path; self.captions = captions; self.split = split; self.source = source
        self.licence = licence; self.label = label; self.attributes = attributes; self.boxes = boxes
        self.sha256 = sha256
        self.group = group
    }
}

/// One object of a rendered scene: what it is and where, [x0, y0, x1, y1] in pixels (x1, y1 exclusive).
public struct ManifestBox: Codable, Sendable, Equatable {
    public var shape: String
    public var colour: String
    public var box: [Double]
    public init(shape: String, colour: String, box: [Double]) { self.shape = shape; self.colour = colour; self.box = box }
}
