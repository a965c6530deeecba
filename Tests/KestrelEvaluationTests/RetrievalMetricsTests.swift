import KestrelEngine
import KestrelEvaluation
import XCTest

final class RetrievalMetricsTests: XCTestCase {
    // 3 queries x 4 gallery items; ranks worked out by hand:
    //   q0 [0.9 0.1 0.2 0.3], relevant {0}: nothing higher -> rank 0
    //   q1 [0.5 0.4 0.6 0.1], relevant {1}: 0.5 and 0.6 higher -> rank 2
    //   q2 [0.2 0.2 0.2 0.2], relevant {3}: all tie, three come earlier -> rank 3
    let similarity: [Float] = [0.9, 0.1, 0.2, 0.3, 0.5, 0.4, 0.6, 0.1, 0.2, 0.2, 0.2, 0.2]

    func testRanksAndRecallAtKByHand() throws {
        let ranks = try RetrievalMetrics.firstRelevantRanks(similarity: similarity, queries: 3, gallery: 4, relevant: [[0], [1], [3]])
        XCTAssertEqual(ranks, [0, 2, 3])
        XCTAssertEqual(RetrievalMetrics.recall(ranks: ranks, k: 1), 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(RetrievalMetrics.recall(ranks: ranks, k: 3), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(RetrievalMetrics.recall(ranks: ranks, k: 4), 1)
        // Several relevant items: the best-ranked one counts (q1 with {1, 2}: item 2 is first).
        XCTAssertEqual(try RetrievalMetrics.firstRelevantRanks(similarity: similarity, queries: 3, gallery: 4, relevant: [[1, 2], [1, 2], [0, 3]]),
                       [2, 0, 0])
        XCTAssertThrowsError(try RetrievalMetrics.firstRelevantRanks(similarity: similarity, queries: 3, gallery: 4, relevant: [[0], [4], [1]]))
        XCTAssertThrowsError(try RetrievalMetrics.firstRelevantRanks(similarity: similarity, queries: 2, gallery: 4, relevant: [[0], [1]]))
    }

    func testANaNRelevantScoreIsNeverRetrieved() throws {
        // The relevant item scored NaN was ranked 0 (nothing compares greater than NaN): a hit.
        XCTAssertEqual(RetrievalMetrics.firstRelevantRank(scores: [Float.nan, 0.5, 0.2], relevant: [0]), 3)
        // With another relevant item that is a number, that one counts; NaN others rank below numbers.
        XCTAssertEqual(RetrievalMetrics.firstRelevantRank(scores: [Float.nan, 0.5, 0.2], relevant: [0, 2]), 1)
        XCTAssertEqual(RetrievalMetrics.firstRelevantRank(scores: [Float.nan, 0.5, 0.2], relevant: [1]), 0)
        let r = try RetrievalEvaluation.compute(images: Tensor(shape: [2, 2], data: [1, 0, 0, 1]),
                                                captions: Tensor(shape: [2, 2], data: [.nan, .nan, 0, 1]), captionImage: [0, 1],
                                                settings: BootstrapSettings(resamples: 10, seed: 0), ks: [1])
        XCTAssertEqual(r.textToImageRanks, [2, 0])
        XCTAssertEqual(r.textToImage[0].recall.value, 0.5, accuracy: 1e-12)
    }

    func testChanceBaseline() {
        XCTAssertEqual(RetrievalMetrics.chance(gallery: 4, relevant: 1, k: 1), 0.25, accuracy: 1e-12)
        XCTAssertEqual(RetrievalMetrics.chance(gallery: 100, relevant: 1, k: 5), 0.05, accuracy: 1e-12)
        // Two relevant of 10, k = 3: 1 - (8/10)(7/9)(6/8) = 1 - 7/15.
        XCTAssertEqual(RetrievalMetrics.chance(gallery: 10, relevant: 2, k: 3), 8.0 / 15, accuracy: 1e-12)
        XCTAssertEqual(RetrievalMetrics.chance(gallery: 4, relevant: 1, k: 10), 1)
    }

    func testBothDirectionsFromEmbeddings() throws {
        // Images e0, e1, e2 (axes); captions: two of image 0 (one exact, one along image 1's
        // axis), one of image 2 halfway between images 0 and 2.
        let s = Float(0.5).squareRoot()
        let images = Tensor(shape: [3, 3], data: [1, 0, 0, 0, 1, 0, 0, 0, 1])
        let captions = Tensor(shape: [3, 3], data: [1, 0, 0, 0, 1, 0, s, 0, s])
        let r = try RetrievalEvaluation.compute(images: images, captions: captions, captionImage: [0, 0, 2],
                                                settings: BootstrapSettings(resamples: 50, seed: 0), ks: [1, 2])
        // Text -> image: caption 0 finds image 0 first; caption 1 finds image 1 first (image 0
        // ties image 2 at 0, image 0 earlier -> rank 1); caption 2 ties images 0 and 2 -> rank 1.
        XCTAssertEqual(r.textToImageRanks, [0, 1, 1])
        XCTAssertEqual(r.textToImage[0].recall.value, 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(r.textToImage[1].recall.value, 1)
        XCTAssertEqual(r.textToImage[0].chance, 1.0 / 3, accuracy: 1e-12)
        // Image -> text: image 0's captions {0, 1}: caption 0 first -> 0; image 1 has none -> never
        // retrieved (rank 3); image 2's caption 2 is its best -> 0.
        XCTAssertEqual(r.imageToTextRanks, [0, 3, 0])
        XCTAssertEqual(r.imageToText[0].recall.value, 2.0 / 3, accuracy: 1e-12)
    }
}
