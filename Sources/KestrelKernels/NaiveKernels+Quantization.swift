// Naive twins of the int8 quantisation helpers (Quantization.swift), written from their
// definitions with plain loops; tests compare the two.

extension NaiveKernels {
    public static func quantizeRowsS8(_ w: [Float], rows: Int, cols: Int) -> (q: [Int8], scales: [Float]) {
        var q = [Int8](repeating: 0, count: rows * cols), scales = [Float](repeating: 1, count: rows)
        for r in 0..<rows {
            var m: Float = 0
            for j in 0..<cols { m = max(m, abs(w[r * cols + j])) }
            let s: Float = m > 0 ? m / 127 : 1
            scales[r] = s
            for j in 0..<cols { q[r * cols + j] = Int8(min(127, max(-127, (w[r * cols + j] / s).rounded(.toNearestOrEven)))) }
        }
        return (q, scales)
    }

    public static func quantizeU8(_ x: [Float]) -> (q: [UInt8], scale: Float, zeroPoint: Int32) {
        var lo: Float = 0, hi: Float = 0
        for v in x { lo = min(lo, v); hi = max(hi, v) }
        let scale: Float = hi > lo ? (hi - lo) / 255 : 1
        let zp = min(255, max(0, (-lo / scale).rounded(.toNearestOrEven)))
        let inv = 1 / scale
        let q = x.map { UInt8(min(255, max(0, ($0 * inv).rounded(.toNearestOrEven) + zp))) }
        return (q, scale, Int32(zp))
    }

    public static func quantizeS8(_ x: [Float]) -> (q: [Int8], scale: Float) {
        var m: Float = 0
        for v in x { m = max(m, abs(v)) }
        let scale: Float = m > 0 ? m / 127 : 1
        let inv = 1 / scale
        return (x.map { Int8(min(127, max(-127, ($0 * inv).rounded(.toNearestOrEven)))) }, scale)
    }
}
