import XCTest
@testable import KestrelGrounding

/// Boxes from hand-made heat maps: blobs to boxes in picture pixels, several instances, NMS,
/// threshold, flat and non-finite maps.
final class BoxesFromHeatMapTests: XCTestCase {
    /// An 8 x 8 map over a 256 x 256 picture (32-pixel cells), `cells` set to their values.
    func map(_ cells: [((Int, Int), Float)], grid: Int = 8, side: Double = 256) -> HeatMap {
        var v = [Float](repeating: 0, count: grid * grid)
        for ((x, y), value) in cells { v[y * grid + x] = value }
        return HeatMap(gridWidth: grid, gridHeight: grid, values: v, region: PixelBox(x0: 0, y0: 0, x1: side, y1: side))
    }

    func testTwoBlobsGiveTwoBoxesAtTheirPlaces() {
        let m = map([((1, 1), 1.0), ((5, 5), 0.8), ((6, 5), 0.8), ((5, 6), 0.8), ((6, 6), 0.8)])
        let c = BoxesFromHeatMap().candidates(m, pictureWidth: 256, pictureHeight: 256)
        XCTAssertEqual(c.count, 2)
        guard c.count == 2 else { return }
        XCTAssertEqual(c[0].score, 1.0, accuracy: 1e-5)
        XCTAssertEqual(c[1].score, 0.8, accuracy: 1e-5)
        // A single cell at half level: the bilinear profile crosses 0.5 at the cell's edges.
        XCTAssertGreaterThan(c[0].box.iou(PixelBox(x0: 32, y0: 32, x1: 64, y1: 64)), 0.7, "\(c[0].box)")
        XCTAssertGreaterThan(c[1].box.iou(PixelBox(x0: 160, y0: 160, x1: 224, y1: 224)), 0.7, "\(c[1].box)")
        XCTAssertTrue(c[1].box.contains(x: 192, y: 192))
    }

    func testFlatEmptyAndNonFiniteMapsGiveNoBoxes() {
        let b = BoxesFromHeatMap()
        XCTAssertTrue(b.candidates(map([]), pictureWidth: 256, pictureHeight: 256).isEmpty)
        let flat = HeatMap(gridWidth: 4, gridHeight: 4, values: [Float](repeating: 0.3, count: 16),
                           region: PixelBox(x0: 0, y0: 0, x1: 100, y1: 100))
        XCTAssertTrue(b.candidates(flat, pictureWidth: 100, pictureHeight: 100).isEmpty)
        let none = HeatMap(gridWidth: 0, gridHeight: 0, values: [], region: PixelBox(x0: 0, y0: 0, x1: 100, y1: 100))
        XCTAssertTrue(b.candidates(none, pictureWidth: 100, pictureHeight: 100).isEmpty)
        var nan = map([((2, 2), 1.0)])
        nan.values[0] = .nan
        nan.values[1] = .infinity
        let c = b.candidates(nan, pictureWidth: 256, pictureHeight: 256)
        XCTAssertEqual(c.count, 1)
        XCTAssertTrue(c[0].box.contains(x: 80, y: 80))
    }

    func testThresholdDropsWeakBoxes() {
        let m = map([((1, 1), 0.3), ((6, 6), 0.9)])
        let b = BoxesFromHeatMap(relativeLevel: 0.2)
        XCTAssertEqual(b.detections(m, query: 0, pictureWidth: 256, pictureHeight: 256, threshold: 0.2, nmsIoU: 0.3, maxPerQuery: 10).count, 2)
        let strong = b.detections(m, query: 3, pictureWidth: 256, pictureHeight: 256, threshold: 0.5, nmsIoU: 0.3, maxPerQuery: 10)
        XCTAssertEqual(strong.count, 1)
        XCTAssertEqual(strong[0].query, 3)
        XCTAssertTrue(strong[0].box.contains(x: 208, y: 208))
        XCTAssertTrue(b.detections(m, query: 0, pictureWidth: 256, pictureHeight: 256, threshold: 0.95, nmsIoU: 0.3, maxPerQuery: 10).isEmpty)
        XCTAssertEqual(b.detections(m, query: 0, pictureWidth: 256, pictureHeight: 256, threshold: 0, nmsIoU: 0.3, maxPerQuery: 1).count, 1)
    }

    /// A frame around the map's border and a blob inside it: two components whose boxes overlap
    /// (IoU about a quarter); NMS above that keeps both, below it only the better one.
    func testNonMaximumSuppressionOnNestedComponents() {
        var cells: [((Int, Int), Float)] = []
        for i in 0..<12 { cells += [((i, 0), 0.9), ((i, 11), 0.9), ((0, i), 0.9), ((11, i), 0.9)] }
        for y in 5...6 { for x in 5...6 { cells.append(((x, y), 1.0)) } }
        let m = map(cells, grid: 12, side: 384)
        let b = BoxesFromHeatMap()
        let both = b.detections(m, query: 0, pictureWidth: 384, pictureHeight: 384, threshold: 0, nmsIoU: 0.5, maxPerQuery: 10)
        XCTAssertEqual(both.count, 2)
        guard both.count == 2 else { return }
        let iou = both[0].box.iou(both[1].box)
        XCTAssertGreaterThan(iou, 0.01)
        let one = b.detections(m, query: 0, pictureWidth: 384, pictureHeight: 384, threshold: 0, nmsIoU: iou * 0.9, maxPerQuery: 10)
        XCTAssertEqual(one.count, 1)
        guard let first = one.first else { return }
        XCTAssertEqual(first.score, 1.0, accuracy: 1e-5)
        XCTAssertTrue(first.box.contains(x: 192, y: 192))
    }

    /// A map over a padded square (OWLv2-style region past the picture): boxes end at the picture's edge.
    func testBoxesAreClippedToThePicture() {
        var m = map([((7, 0), 1.0)])
        m.region = PixelBox(x0: 0, y0: 0, x1: 256, y1: 256)
        let c = BoxesFromHeatMap().candidates(m, pictureWidth: 240, pictureHeight: 100)
        XCTAssertEqual(c.count, 1)
        XCTAssertLessThanOrEqual(c[0].box.x1, 240)
        XCTAssertGreaterThan(c[0].box.x1, c[0].box.x0)
    }

    func testBilinearValueAndPeak() {
        let m = map([((1, 1), 1.0)])
        XCTAssertEqual(m.value(x: 48, y: 48), 1, accuracy: 1e-6)
        XCTAssertEqual(m.value(x: 64, y: 48), 0.5, accuracy: 1e-6)
        XCTAssertEqual(m.value(x: 0, y: 0), 0, accuracy: 1e-6)
        let p = m.peak!
        XCTAssertEqual(p.x, 48); XCTAssertEqual(p.y, 48); XCTAssertEqual(p.value, 1)
    }
}
