/// Widening of the 16-bit float formats in safetensors checkpoints (F16, BF16) to float32.
///
/// The package builds for baseline x86-64 (no F16C), where `Float(Float16)` is a call to the
/// soft-float `__extendhfsf2` per value; that made loading an F16 ViT-B/32 several times slower
/// than reading its bytes. `widenF16` does the same conversion with integer operations in a
/// loop the compiler can vectorise. Twin: `naiveWidenF16` (the `Float(Float16)` path); tests
/// compare the two on all 65,536 half bit patterns, bit for bit.
public enum HalfPrecision {
    /// The float32 bit pattern of the IEEE 754 binary16 value `h`, exactly: normals re-biased,
    /// subnormals normalised, signed zeros and infinities kept; a NaN keeps its sign and payload
    /// and comes out quiet, as `Float(Float16)` (compiler-rt, F16C, arm64) gives it.
    @inline(__always)
    public static func floatBits(half h: UInt16) -> UInt32 {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x3FF)
        let normal = sign | ((exponent &+ (127 - 15)) << 23) | (mantissa << 13)
        let special = sign | 0x7F80_0000 | (mantissa << 13) | (mantissa == 0 ? 0 : 0x0040_0000)  // infinity, quiet NaN
        // A subnormal (or zero) is mantissa x 2^-24; both factors and the product are exact in float32.
        let subnormal = sign | (Float(Int32(bitPattern: mantissa)) * 0x1p-24).bitPattern
        return exponent == 0 ? subnormal : (exponent == 0x1F ? special : normal)
    }

    /// `count` little-endian binary16 values from `bytes` (any alignment) into `out`.
    public static func widenF16(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>, count: Int) {
        precondition(bytes.count >= 2 * count && out.count >= count)
        guard count > 0, let src = bytes.baseAddress, let dst = out.baseAddress else { return }
        for i in 0..<count {
            let h = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            dst[i] = Float(bitPattern: floatBits(half: h))
        }
    }

    /// `count` little-endian bfloat16 values (the top half of a float32) from `bytes` into `out`.
    public static func widenBF16(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>, count: Int) {
        precondition(bytes.count >= 2 * count && out.count >= count)
        guard count > 0, let src = bytes.baseAddress, let dst = out.baseAddress else { return }
        for i in 0..<count {
            let high = UInt32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            dst[i] = Float(bitPattern: high << 16)
        }
    }

    /// Reference twin of `widenF16`: Swift's own `Float(Float16)`, one value at a time.
    public static func naiveWidenF16(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>, count: Int) {
        precondition(bytes.count >= 2 * count && out.count >= count)
        for i in 0..<count {
            out[i] = Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
        }
    }
}
