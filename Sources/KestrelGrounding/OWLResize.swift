import Foundation
import KestrelImage

/// The resampling transformers 5's default (torchvision-backed) OWL image processors run, ported so
/// the pixels agree with them: torchvision's uint8 antialiased resize (PyTorch's
/// `_upsample_bicubic2d_aa` / `_upsample_bilinear2d_aa` on uint8, `UpSampleKernel.cpp`; not Pillow's:
/// 16-bit weights with a precision chosen per call, the horizontal pass first), and the float
/// Gaussian blur and bilinear resize `Owlv2ImageProcessor` uses.
enum OWLResize {
    // MARK: - uint8, antialiased (OWL-ViT)

    /// PyTorch's antialias filter: Keys cubic (a = -0.5) or the triangle.
    static func filterWeight(_ x0: Double, _ filter: ResampleFilter) -> Double {
        let x = abs(x0)
        switch filter {
        case .bilinear: return x < 1 ? 1 - x : 0
        case .bicubic:
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
            return 0
        }
    }

    /// Per output sample: first input index, tap count, and int16 weights with `precision` fraction bits
    /// (`_compute_index_ranges_int16_weights`).
    static func weights(inSize: Int, outSize: Int, filter: ResampleFilter) -> (mins: [Int], sizes: [Int], k: [Int32], taps: Int, precision: Int) {
        let scale = Double(inSize) / Double(outSize)
        let base = filter == .bicubic ? 2.0 : 1.0
        let support = scale >= 1 ? base * scale : base
        let taps = Int(support.rounded(.up)) * 2 + 1
        let invScale = scale >= 1 ? 1 / scale : 1
        var w = [Double](repeating: 0, count: outSize * taps)
        var mins = [Int](repeating: 0, count: outSize), sizes = mins
        var maxWeight = 0.0
        for i in 0..<outSize {
            let centre = scale * (Double(i) + 0.5)
            let xmin = max(Int(centre - support + 0.5), 0)
            let xsize = min(max(min(Int(centre + support + 0.5), inSize) - xmin, 0), taps)
            var total = 0.0
            for j in 0..<xsize {
                let v = filterWeight((Double(j + xmin) - centre + 0.5) * invScale, filter)
                w[i * taps + j] = v
                total += v
            }
            if total != 0 { for j in 0..<xsize { w[i * taps + j] /= total; maxWeight = max(maxWeight, w[i * taps + j]) } }
            mins[i] = xmin; sizes[i] = xsize
        }
        var precision = 0
        while precision < 22 {
            if Int(0.5 + maxWeight * Double(1 << (precision + 1))) >= (1 << 15) { break }
            precision += 1
        }
        let k = w.map { v -> Int32 in
            let s = v * Double(1 << precision)
            return Int32((s < 0 ? s - 0.5 : s + 0.5).rounded(.towardZero))
        }
        return (mins, sizes, k, taps, precision)
    }

    /// Interleaved RGB8 `width` x `height` -> `outWidth` x `outHeight`, as torchvision's
    /// `resize(uint8 tensor, antialias=True)` on CPU: horizontal pass, uint8, vertical pass.
    static func antialiasedUInt8(_ px: [UInt8], width: Int, height: Int, outWidth: Int, outHeight: Int,
                                 filter: ResampleFilter) -> [UInt8] {
        let c = 3
        var src = px, w = width
        if outWidth != width {
            let (mins, sizes, k, taps, p) = weights(inSize: width, outSize: outWidth, filter: filter)
            var out = [UInt8](repeating: 0, count: height * outWidth * c)
            for y in 0..<height {
                for x in 0..<outWidth {
                    for ch in 0..<c {
                        var s = Int32(1) << Int32(p - 1)
                        for j in 0..<sizes[x] { s += Int32(src[(y * width + mins[x] + j) * c + ch]) * k[x * taps + j] }
                        out[(y * outWidth + x) * c + ch] = UInt8(clamping: s >> Int32(p))
                    }
                }
            }
            src = out; w = outWidth
        }
        if outHeight != height {
            let (mins, sizes, k, taps, p) = weights(inSize: height, outSize: outHeight, filter: filter)
            var out = [UInt8](repeating: 0, count: outHeight * w * c)
            for y in 0..<outHeight {
                for x in 0..<(w * c) {
                    var s = Int32(1) << Int32(p - 1)
                    for j in 0..<sizes[y] { s += Int32(src[(mins[y] + j) * w * c + x]) * k[y * taps + j] }
                    out[y * w * c + x] = UInt8(clamping: s >> Int32(p))
                }
            }
            src = out
        }
        return src
    }

    // MARK: - float, planar [C, H, W] (OWLv2)

    /// torchvision's Gaussian kernel for `sigma` > 0: 2·ceil(3σ) + 1 taps, normalised to sum 1;
    /// [1] for sigma 0 (no blur).
    static func gaussianKernel(sigma: Float) -> [Float] {
        guard sigma > 0 else { return [1] }
        let ksize = 2 * Int((3 * sigma).rounded(.up)) + 1, half = ksize / 2
        let kernel = (0..<ksize).map { i -> Float in
            let t = (Float(i) - Float(half)) / sigma
            return expf(-0.5 * t * t)
        }
        let total = kernel.reduce(0, +)
        return kernel.map { $0 / total }
    }

    /// torchvision `gaussian_blur` with kernel 2 ceil(3 sigma) + 1 and reflect padding, one sigma
    /// for both axes (the picture is square), on planar floats.
    static func gaussianBlur(_ x: [Float], channels: Int, size n: Int, sigma: Float) -> [Float] {
        let kernel = gaussianKernel(sigma: sigma), ksize = kernel.count, half = ksize / 2
        func reflect(_ i: Int) -> Int {
            var i = i
            while i < 0 || i >= n { i = i < 0 ? -i : 2 * (n - 1) - i; if n == 1 { return 0 } }
            return i
        }
        // Separable (rows, then columns): the same sums as torchvision's 2-D kernel up to float
        // rounding. One plane of scratch at a time; the result replaces `x`.
        var x = x
        var tmp = [Float](repeating: 0, count: n * n), plane = tmp
        for ch in 0..<channels {
            let base = ch * n * n
            for y in 0..<n {
                for xx in 0..<n {
                    var s: Float = 0
                    for d in 0..<ksize { s += kernel[d] * x[base + y * n + reflect(xx + d - half)] }
                    tmp[y * n + xx] = s
                }
            }
            for i in 0..<(n * n) { plane[i] = 0 }
            for y in 0..<n {
                for d in 0..<ksize {
                    let row = reflect(y + d - half) * n, k = kernel[d]
                    for xx in 0..<n { plane[y * n + xx] += k * tmp[row + xx] }
                }
            }
            x.replaceSubrange(base..<(base + n * n), with: plane)
        }
        return x
    }

    /// The two source indices and weights of each of `m` outputs of a bilinear resize from `n`
    /// (PyTorch `interpolate(mode="bilinear", align_corners=False)`): (i0, i1, w0, w1).
    static func bilinearTaps(from n: Int, to m: Int) -> [(Int, Int, Float, Float)] {
        let scale = Float(n) / Float(m)
        return (0..<m).map { o -> (Int, Int, Float, Float) in
            let src = max((Float(o) + 0.5) * scale - 0.5, 0)
            let i0 = min(Int(src), n - 1)
            let i1 = i0 < n - 1 ? i0 + 1 : i0
            let l1 = src - Float(i0)
            return (i0, i1, 1 - l1, l1)
        }
    }

    /// PyTorch `interpolate(mode="bilinear", align_corners=False, antialias=False)` of square planes
    /// `n` x `n` -> `m` x `m`.
    static func bilinear(_ x: [Float], channels: Int, size n: Int, to m: Int) -> [Float] {
        let taps = bilinearTaps(from: n, to: m)
        var out = [Float](repeating: 0, count: channels * m * m)
        for ch in 0..<channels {
            let p = ch * n * n
            for y in 0..<m {
                let (y0, y1, hy0, hy1) = taps[y]
                for xx in 0..<m {
                    let (x0, x1, wx0, wx1) = taps[xx]
                    let top = wx0 * x[p + y0 * n + x0] + wx1 * x[p + y0 * n + x1]
                    let bottom = wx0 * x[p + y1 * n + x0] + wx1 * x[p + y1 * n + x1]
                    out[ch * m * m + y * m + xx] = hy0 * top + hy1 * bottom
                }
            }
        }
        return out
    }
}
