import Foundation

extension OWLResize {
    /// OWLv2's preprocessing of an RGB8 picture `w` x `h`, values x `rescale`: padded with 0 at the
    /// right and bottom to the square `n` = max(w, h), blurred (`gaussianBlur`'s kernel and reflect
    /// borders; no blur when `sigma` is 0) and resized to `m` x `m` (`bilinear`) -> [3, m, m].
    /// The same numbers as those three steps (up to float rounding of the sums), computed only where
    /// the bilinear resize reads (at most 2m rows and columns of the blurred square) and skipping
    /// what is zero: a long strip or a large photo costs O(m·n·kernel), not O(n²·kernel), and no n x n
    /// buffer is made. Naive twin: `gaussianBlur` then `bilinear` on the padded square.
    static func padBlurResize(_ rgb: [UInt8], width w: Int, height h: Int, sigma: Float, to m: Int, rescale: Double) -> [Float] {
        let n = max(w, h)
        let kernel = gaussianKernel(sigma: sigma), ksize = kernel.count, half = ksize / 2
        func reflect(_ i: Int) -> Int {
            var i = i
            while i < 0 || i >= n { i = i < 0 ? -i : 2 * (n - 1) - i; if n == 1 { return 0 } }
            return i
        }
        let taps = bilinearTaps(from: n, to: m)   // the same taps as `bilinear`
        let needed = Array(Set(taps.flatMap { [$0.0, $0.1] })).sorted()   // rows (and columns) the resize reads
        var slot = [Int: Int]()
        for (k, v) in needed.enumerated() { slot[v] = k }
        // Columns whose horizontal window misses the picture are 0; likewise rows for the vertical.
        let liveCols = needed.filter { $0 < w + half }, liveRows = needed.filter { $0 < h + half }
        // Rows the vertical pass reads for the live rows.
        var sourceRows = Set<Int>()
        for r in liveRows { for d in 0..<ksize { let y = reflect(r + d - half); if y < h { sourceRows.insert(y) } } }
        var out = [Float](repeating: 0, count: 3 * m * m)
        let rescaleF = Float(rescale)
        for c in 0..<3 {
            // Horizontal pass at the live columns of each source row: rowValues[y][slot of column].
            var horizontal = [Int: [Float]]()
            for y in sourceRows {
                var line = [Float](repeating: 0, count: needed.count)
                for x in liveCols {
                    var s: Float = 0
                    for d in 0..<ksize {
                        let xx = reflect(x + d - half)
                        if xx < w { s += kernel[d] * (Float(rgb[(y * w + xx) * 3 + c]) * rescaleF) }
                    }
                    line[slot[x]!] = s
                }
                horizontal[y] = line
            }
            // Vertical pass at the live rows.
            var blurred = [[Float]](repeating: [Float](repeating: 0, count: needed.count), count: needed.count)
            for r in liveRows {
                var acc = [Float](repeating: 0, count: needed.count)
                for d in 0..<ksize {
                    let y = reflect(r + d - half)
                    guard let line = horizontal[y] else { continue }
                    let k = kernel[d]
                    for x in liveCols { let j = slot[x]!; acc[j] += k * line[j] }
                }
                blurred[slot[r]!] = acc
            }
            for yo in 0..<m {
                let (y0, y1, hy0, hy1) = taps[yo]
                let r0 = blurred[slot[y0]!], r1 = blurred[slot[y1]!]
                for xo in 0..<m {
                    let (x0, x1, wx0, wx1) = taps[xo]
                    let (a, b) = (slot[x0]!, slot[x1]!)
                    let top = wx0 * r0[a] + wx1 * r0[b], bottom = wx0 * r1[a] + wx1 * r1[b]
                    out[c * m * m + yo * m + xo] = hy0 * top + hy1 * bottom
                }
            }
        }
        return out
    }
}
