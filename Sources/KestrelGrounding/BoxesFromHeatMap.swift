import Foundation

/// Boxes from a heat map: the map is upsampled (bilinear) to a raster `upsample` times finer than
/// its grid, cells at or above a level between the map's median (the background) and its maximum
/// form a mask, and each 8-connected component of the mask is one candidate box (several
/// instances per query), scored by the highest grid value (patch cosine) among the cells whose
/// centres lie in the component (the highest upsampled value when no centre does). Boxes are in the original
/// picture's pixels, clipped to it.
public struct BoxesFromHeatMap: Sendable {
    /// The mask level as a fraction of the way from the map's median to its maximum, 0 to 1:
    /// higher gives tighter boxes and splits touching instances more often.
    public var relativeLevel: Float
    /// Raster cells per grid cell along each side.
    public var upsample: Int

    /// Chosen on rendered scenes (docs/grounding-dense.md: IoU by level).
    public init(relativeLevel: Float = 0.5, upsample: Int = 8) {
        self.relativeLevel = min(max(relativeLevel, 0), 1)
        self.upsample = max(1, upsample)
    }

    /// A candidate: the component's box and score (its peak map value).
    public struct Candidate: Sendable, Equatable {
        public var box: PixelBox
        public var score: Float
    }

    /// Candidate boxes of `map` inside a `width` x `height` picture, best first. None when the map
    /// is flat (maximum == median: nothing stands out) or empty; non-finite values count as the minimum.
    public func candidates(_ map: HeatMap, pictureWidth width: Int, pictureHeight height: Int) -> [Candidate] {
        let gw = map.gridWidth, gh = map.gridHeight
        guard gw > 0, gh > 0, map.values.count == gw * gh else { return [] }
        let finite = map.values.filter(\.isFinite)
        guard let hi = finite.max() else { return [] }
        let sorted = finite.sorted()
        let median = sorted[sorted.count / 2]
        guard hi > median else { return [] }
        let level = median + relativeLevel * (hi - median)
        var clean = map
        let lowest = sorted[0]
        clean.values = map.values.map { $0.isFinite ? $0 : lowest }
        let rw = gw * upsample, rh = gh * upsample
        let raster = clean.upsampled(width: rw, height: rh)
        var label = [Int32](repeating: -1, count: rw * rh)
        var out: [Candidate] = []
        var stack: [Int] = []
        let sx = map.region.width / Double(rw), sy = map.region.height / Double(rh)
        for start in 0..<(rw * rh) where raster[start] >= level && label[start] < 0 {
            let id = Int32(out.count)
            var (minX, minY, maxX, maxY) = (Int.max, Int.max, Int.min, Int.min)
            var best = -Float.infinity
            label[start] = id
            stack.append(start)
            while let p = stack.popLast() {
                let (x, y) = (p % rw, p / rw)
                minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
                best = max(best, raster[p])
                for dy in -1...1 { for dx in -1...1 where dx != 0 || dy != 0 {
                    let (nx, ny) = (x + dx, y + dy)
                    guard nx >= 0, ny >= 0, nx < rw, ny < rh else { continue }
                    let q = ny * rw + nx
                    if raster[q] >= level && label[q] < 0 { label[q] = id; stack.append(q) }
                } }
            }
            let box = PixelBox(x0: map.region.x0 + Double(minX) * sx, y0: map.region.y0 + Double(minY) * sy,
                               x1: map.region.x0 + Double(maxX + 1) * sx, y1: map.region.y0 + Double(maxY + 1) * sy)
                .clipped(width: width, height: height)
            out.append(Candidate(box: box, score: best))
        }
        // Scores on the grid's own values: each cell centre's raster pixel names its component.
        var peak = [Float](repeating: -.infinity, count: out.count)
        for gy in 0..<gh {
            for gx in 0..<gw {
                let id = label[(gy * upsample + upsample / 2) * rw + gx * upsample + upsample / 2]
                if id >= 0 { peak[Int(id)] = max(peak[Int(id)], clean.values[gy * gw + gx]) }
            }
        }
        for i in out.indices where peak[i] > -.infinity { out[i].score = peak[i] }
        return out.filter { $0.box.area > 0 }.sorted { $0.score > $1.score }
    }

    /// `candidates` for one query, optionally re-scored (`rescore`, given the candidates when there
    /// are any: the threshold then applies to the new scores), then the score threshold, then
    /// non-maximum suppression: detections best first, at most `maxPerQuery`.
    public func detections(_ map: HeatMap, query: Int, pictureWidth width: Int, pictureHeight height: Int,
                           threshold: Float, nmsIoU: Double, maxPerQuery: Int,
                           rescore: ([Detection]) throws -> [Detection]) rethrows -> [Detection] {
        var found = candidates(map, pictureWidth: width, pictureHeight: height)
            .map { Detection(query: query, box: $0.box, score: $0.score) }
        if !found.isEmpty { found = try rescore(found) }
        return nonMaximumSuppression(found.filter { $0.score >= threshold }, iou: nmsIoU, maxPerQuery: maxPerQuery)
    }

    /// The same with the candidates' own scores.
    public func detections(_ map: HeatMap, query: Int, pictureWidth width: Int, pictureHeight height: Int,
                           threshold: Float, nmsIoU: Double, maxPerQuery: Int) -> [Detection] {
        detections(map, query: query, pictureWidth: width, pictureHeight: height, threshold: threshold,
                   nmsIoU: nmsIoU, maxPerQuery: maxPerQuery) { $0 }
    }
}
