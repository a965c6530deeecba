import Foundation
import KestrelImage

/// Heat maps drawn over their picture (SKELETON: the dense helper replaces this file).
public enum HeatMapImage {
    /// The picture (RGB8) with the heat map upsampled to its size and blended over it, and the
    /// boxes outlined; PNG bytes.
    public static func overlayPNG(_ image: DecodedImage, heatmap: HeatMap, boxes: [PixelBox]) throws -> [UInt8] {
        throw GroundingError.badQuery("heat maps are not built yet")
    }
}
