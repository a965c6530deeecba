import Foundation
import KestrelEngine

/// Photo-like RGB pictures for the ingest benchmark, deterministic for a seed, so that a JPEG
/// of them costs libjpeg what a camera photo costs (the entropy decoding scales with the bytes):
/// - a sky-to-ground gradient under a coarse colour field (lighting, large surfaces);
/// - texture: value noise at two scales (24 px "foliage", 3 px "grass/fabric"), strongest in
///   the lower part of the frame;
/// - edges: 40 flat-coloured rectangles and discs with hard borders (buildings, objects);
/// - sensor noise: uniform +-6 levels per sample.
/// At JPEG quality 90 this gives about 0.3 bytes per pixel (12 MP: 3.6 MB, 24 MP: 7 MB), in the
/// range of camera JPEGs (0.2-0.5).
struct PhotoGenerator {
    var rng: BenchRandom

    init(seed: UInt64) { rng = BenchRandom(seed: seed) }

    /// A smooth noise tile of `size` x `size` (power of two) with cells of `cell` pixels, values in -1...1.
    mutating func tile(size: Int, cell: Int) -> [Float] {
        let g = size / cell
        let grid = (0..<(g * g)).map { _ in Float(2 * rng.uniform() - 1) }
        var out = [Float](repeating: 0, count: size * size)
        for y in 0..<size {
            let fy = Float(y) / Float(cell), y0 = Int(fy) % g, y1 = (y0 + 1) % g, ty = fy - Float(Int(fy))
            for x in 0..<size {
                let fx = Float(x) / Float(cell), x0 = Int(fx) % g, x1 = (x0 + 1) % g, tx = fx - Float(Int(fx))
                let a = grid[y0 * g + x0] * (1 - tx) + grid[y0 * g + x1] * tx
                let b = grid[y1 * g + x0] * (1 - tx) + grid[y1 * g + x1] * tx
                out[y * size + x] = a * (1 - ty) + b * ty
            }
        }
        return out
    }

    /// [height, width, 3] packed RGB.
    mutating func picture(width w: Int, height h: Int) -> [UInt8] {
        let tileSize = 512, mask = tileSize - 1
        let mid = tile(size: tileSize, cell: 32), fine = tile(size: tileSize, cell: 4)
        // Coarse colour field: 9 x 7 random colours, bilinear.
        let gx = 9, gy = 7
        let field = (0..<(gx * gy * 3)).map { _ in Float(40 + 180 * rng.uniform()) }
        let sky: [Float] = [110 + 60 * Float(rng.uniform()), 150 + 60 * Float(rng.uniform()), 200 + 50 * Float(rng.uniform())]
        let ground: [Float] = [60 + 60 * Float(rng.uniform()), 70 + 60 * Float(rng.uniform()), 30 + 40 * Float(rng.uniform())]
        let horizon = Float(0.35 + 0.3 * rng.uniform())
        struct Shape { var x0, y0, x1, y1: Int; var disc: Bool; var rgb: [Float] }
        let shapes = (0..<40).map { _ -> Shape in
            let sw = Int(Double(w) * (0.03 + 0.2 * rng.uniform())), sh = Int(Double(h) * (0.03 + 0.25 * rng.uniform()))
            let x0 = Int(Double(w - sw) * rng.uniform()), y0 = Int(Double(h - sh) * rng.uniform())
            return Shape(x0: x0, y0: y0, x1: x0 + sw, y1: y0 + sh, disc: rng.uniform() < 0.4,
                         rgb: (0..<3).map { _ in Float(255 * rng.uniform()) })
        }
        var out = [UInt8](repeating: 0, count: w * h * 3)
        var noise = rng.next() | 1
        let ox = Int(rng.next() % 512), oy = Int(rng.next() % 512)
        var base = [Float](repeating: 0, count: w * 3)
        out.withUnsafeMutableBufferPointer { o in
            for y in 0..<h {
                let v = Float(y) / Float(h)
                // Row colour: gradient and field.
                let fy = v * Float(gy - 1), y0 = min(Int(fy), gy - 2), ty = fy - Float(y0)
                let t = v < horizon ? v / horizon : 1
                for x in 0..<w {
                    let fx = Float(x) / Float(w) * Float(gx - 1), x0 = min(Int(fx), gx - 2), tx = fx - Float(x0)
                    for c in 0..<3 {
                        let a = field[(y0 * gx + x0) * 3 + c] * (1 - tx) + field[(y0 * gx + x0 + 1) * 3 + c] * tx
                        let b = field[((y0 + 1) * gx + x0) * 3 + c] * (1 - tx) + field[((y0 + 1) * gx + x0 + 1) * 3 + c] * tx
                        let f = a * (1 - ty) + b * ty
                        let g = v < horizon ? sky[c] * (1 - t) + 0.5 * (sky[c] + ground[c]) * t : ground[c]
                        base[x * 3 + c] = 0.6 * g + 0.4 * f
                    }
                }
                for s in shapes where y >= s.y0 && y < s.y1 {
                    let cy = Float(s.y0 + s.y1) / 2, ry = Float(s.y1 - s.y0) / 2
                    let rx = Float(s.x1 - s.x0) / 2, cx = Float(s.x0 + s.x1) / 2
                    let shade = 0.8 + 0.4 * Float(y - s.y0) / Float(max(1, s.y1 - s.y0))
                    for x in s.x0..<s.x1 {
                        if s.disc {
                            let dx = (Float(x) - cx) / rx, dy = (Float(y) - cy) / ry
                            if dx * dx + dy * dy > 1 { continue }
                        }
                        for c in 0..<3 { base[x * 3 + c] = s.rgb[c] * shade }
                    }
                }
                let texture: Float = v < horizon ? 6 : 28
                let row = ((y + oy) & mask) * tileSize
                let rowOut = y * w * 3
                for x in 0..<w {
                    let tx = (x + ox) & mask
                    let tex = texture * mid[row + tx] + 0.6 * texture * fine[((y * 7 + oy) & mask) * tileSize + ((x * 3 + ox) & mask)]
                    for c in 0..<3 {
                        noise = noise &* 6364136223846793005 &+ 1442695040888963407
                        let n = Float(Int((noise >> 33) % 13) - 6)
                        let value = base[x * 3 + c] + tex + n
                        o[rowOut + x * 3 + c] = UInt8(max(0, min(255, value.rounded())))
                    }
                }
            }
        }
        return out
    }
}

/// Bilinear upscale of packed RGB (for the "real content" part of the quality measurement).
func upscaleRGB(_ px: [UInt8], width w: Int, height h: Int, to ow: Int, _ oh: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: ow * oh * 3)
    for y in 0..<oh {
        let fy = max(0, (Double(y) + 0.5) * Double(h) / Double(oh) - 0.5)
        let y0 = min(Int(fy), h - 1), y1 = min(y0 + 1, h - 1), ty = fy - Double(y0)
        for x in 0..<ow {
            let fx = max(0, (Double(x) + 0.5) * Double(w) / Double(ow) - 0.5)
            let x0 = min(Int(fx), w - 1), x1 = min(x0 + 1, w - 1), tx = fx - Double(x0)
            for c in 0..<3 {
                let a = Double(px[(y0 * w + x0) * 3 + c]) * (1 - tx) + Double(px[(y0 * w + x1) * 3 + c]) * tx
                let b = Double(px[(y1 * w + x0) * 3 + c]) * (1 - tx) + Double(px[(y1 * w + x1) * 3 + c]) * tx
                out[(y * ow + x) * 3 + c] = UInt8((a * (1 - ty) + b * ty).rounded())
            }
        }
    }
    return out
}
