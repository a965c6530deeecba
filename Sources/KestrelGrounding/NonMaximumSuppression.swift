/// Greedy non-maximum suppression per query: boxes sorted by score (best first; ties keep input
/// order), a box is kept unless it overlaps an already kept box of the same query by more than
/// `iou`. Returns the kept detections, best first, at most `maxPerQuery` per query.
public func nonMaximumSuppression(_ detections: [Detection], iou: Double, maxPerQuery: Int) -> [Detection] {
    let order = detections.indices.sorted { (detections[$0].score, -$0) > (detections[$1].score, -$1) }
    var kept: [Detection] = []
    var perQuery: [Int: Int] = [:]
    for i in order {
        let d = detections[i]
        guard perQuery[d.query, default: 0] < maxPerQuery else { continue }
        if kept.contains(where: { $0.query == d.query && $0.box.iou(d.box) > iou }) { continue }
        kept.append(d)
        perQuery[d.query, default: 0] += 1
    }
    return kept
}
