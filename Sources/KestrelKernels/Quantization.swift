import CDNNL

// The int8 schemes of the oneDNN backend (implemented in CDNNL; naive twins in
// NaiveKernels+Quantization.swift).
//
// Weights, per output channel, symmetric: scale[r] = max_j |w[r, j]| / 127 (1 for an all-zero
// row), q = round_half_even(w / scale) in [-127, 127]; w ~ q * scale with error <= scale / 2.
// Activations, per tensor, asymmetric (u8 with a zero point, as ONNX Runtime's dynamic
// quantisation): the range [min(0, min x), max(0, max x)] in 255 steps; or symmetric s8.

public enum Quantization {
    /// Quantises `w[rows, cols]` per row (output channel). Returns q `[rows, cols]` and scales `[rows]`.
    public static func quantizeRowsS8(_ w: [Float], rows: Int, cols: Int) -> (q: [Int8], scales: [Float]) {
        precondition(w.count == rows * cols, "quantizeRowsS8: \(w.count) values for \(rows) x \(cols)")
        var q = [Int8](repeating: 0, count: rows * cols), s = [Float](repeating: 1, count: rows)
        w.withUnsafeBufferPointer { wp in
            q.withUnsafeMutableBufferPointer { qp in
                s.withUnsafeMutableBufferPointer { sp in
                    guard let wb = wp.baseAddress, let qb = qp.baseAddress, let sb = sp.baseAddress else { return }
                    cdnnl_quantize_rows_s8(wb, Int64(rows), Int64(cols), qb, sb)
                }
            }
        }
        return (q, s)
    }

    /// Quantises `x` per tensor to u8 with a zero point: x ~ (q - zeroPoint) * scale.
    public static func quantizeU8(_ x: [Float]) -> (q: [UInt8], scale: Float, zeroPoint: Int32) {
        var q = [UInt8](repeating: 0, count: x.count)
        var scale: Float = 1, zp: Int32 = 0
        x.withUnsafeBufferPointer { xp in
            q.withUnsafeMutableBufferPointer { qp in
                guard let xb = xp.baseAddress, let qb = qp.baseAddress else { return }
                cdnnl_quantize_u8(xb, Int64(x.count), qb, &scale, &zp)
            }
        }
        return (q, scale, zp)
    }

    /// Quantises `x` per tensor to s8, symmetric: x ~ q * scale.
    public static func quantizeS8(_ x: [Float]) -> (q: [Int8], scale: Float) {
        var q = [Int8](repeating: 0, count: x.count)
        var scale: Float = 1
        x.withUnsafeBufferPointer { xp in
            q.withUnsafeMutableBufferPointer { qp in
                guard let xb = xp.baseAddress, let qb = qp.baseAddress else { return }
                cdnnl_quantize_s8(xb, Int64(x.count), qb, &scale)
            }
        }
        return (q, scale)
    }
}
