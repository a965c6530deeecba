// 16-lane float math for the Swift SIMD kernels (now the benchmark baseline, `SwiftSIMDKernels`;
// CKernels' kernels_body.h ports the same polynomials): glibc's expf/erff/tanhf are scalar calls
// (7-17 ns per element here), these run in a handful of vector instructions.
//
// Accuracy (checked against Double in the tests): vexp within ~2 ulp on [-87.3, 88];
// verf within 1.5e-7 absolute (Abramowitz & Stegun 7.1.26, the formula ATen's vectorised
// erf uses).

/// Sixteen float lanes (one AVX-512 register).
typealias Float16Lanes = SIMD16<Float>

/// e^x per lane. Inputs above 88 are clamped to 88 (e^88 = 1.65e38); below ln(FLT_MIN)
/// (including -infinity) the result is exactly 0.
@inline(__always)
func vexp(_ x: Float16Lanes) -> Float16Lanes {
    let minX: Float = -87.33654475, maxX: Float = 88
    // (pointwiseMin/Max compile to scalar code here; compare-and-select vectorises.)
    let lo = x.replacing(with: minX, where: x .< minX)
    let xc = lo.replacing(with: maxX, where: lo .> maxX)
    // n = round(x / ln 2) by the 1.5 * 2^23 trick; its low mantissa bits hold n.
    let magic = Float16Lanes(repeating: 12_582_912)
    let t = xc * 1.44269504088896341 + magic
    let n = t - magic
    // r = x - n ln 2 in two pieces (Cephes).
    let r = xc - n * 0.693359375 + n * 2.12194440e-4
    let r2 = r * r
    var p = Float16Lanes(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let y = p * r2 + r + 1
    let bits = unsafeBitCast(t, to: SIMD16<Int32>.self) &- 0x4B40_0000  // n
    let scale = unsafeBitCast((bits &+ 127) &<< 23, to: Float16Lanes.self)   // 2^n
    return (y * scale).replacing(with: 0, where: x .< minX)
}

/// erf(x) per lane, absolute error below 1.5e-7.
@inline(__always)
func verf(_ x: Float16Lanes) -> Float16Lanes {
    let ax = unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: Float16Lanes.self)
    let t = 1 / (ax * 0.3275911 + 1)
    var r = Float16Lanes(repeating: 1.061405429)
    r = r * t - 1.453152027
    r = r * t + 1.421413741
    r = r * t - 0.284496736
    r = r * t + 0.254829592
    let e = 1 - r * t * vexp(-(ax * ax))
    return e.replacing(with: -e, where: x .< 0)
}

/// Applies `f` to `n` floats in place, 16 at a time, the tail through a zero-padded vector.
@inline(__always)
func mapInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int, _ f: (Float16Lanes) -> Float16Lanes) {
    let raw = UnsafeMutableRawPointer(p)
    var i = 0
    while i + 16 <= n {
        let v = raw.loadUnaligned(fromByteOffset: i * 4, as: Float16Lanes.self)
        raw.storeBytes(of: f(v), toByteOffset: i * 4, as: Float16Lanes.self)
        i += 16
    }
    if i < n {
        var v = Float16Lanes()
        for j in 0..<(n - i) { v[j] = p[i + j] }
        let r = f(v)
        for j in 0..<(n - i) { p[i + j] = r[j] }
    }
}
