/// Vectors on disk: `dimension` components, little-endian IEEE binary32 or binary16.
/// Half-precision conversion is written out (round to nearest, ties to even) so it is the
/// same on every platform, including those where Swift has no `Float16`.
enum VectorCoding {
    static func encode(_ v: [Float], as storage: VectorStorage) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: v.count * storage.bytesPerComponent)
        out.withUnsafeMutableBytes { b in
            switch storage {
            case .float32:
                for (i, x) in v.enumerated() { b.storeBytes(of: x.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
            case .float16:
                for (i, x) in v.enumerated() { b.storeBytes(of: halfBits(x).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
            }
        }
        return out
    }

    /// Appends the decoded vector to `out`; false when the byte count is not `dimension` components.
    @discardableResult
    static func decode(_ bytes: UnsafeRawBufferPointer, as storage: VectorStorage, dimension: Int, into out: inout [Float]) -> Bool {
        guard bytes.count == dimension * storage.bytesPerComponent else { return false }
        switch storage {
        case .float32:
            for i in 0..<dimension {
                let b = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                out.append(Float(bitPattern: b))
            }
        case .float16:
            for i in 0..<dimension {
                out.append(float(halfBits: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
            }
        }
        return true
    }

    static func halfBits(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
        let exponent = Int((x >> 23) & 0xFF)
        var mantissa = x & 0x7F_FFFF
        if exponent == 0xFF { return sign | 0x7C00 | (mantissa != 0 ? 0x200 : 0) }  // inf, nan
        let e = exponent - 127 + 15
        if e >= 0x1F { return sign | 0x7C00 }  // too large: infinity
        if e <= 0 {  // subnormal half (or zero): mantissa * 2^-24
            if e < -10 { return sign }
            mantissa |= 0x80_0000
            let shift = UInt32(14 - e)
            var h = mantissa >> shift
            let rest = mantissa & ((1 << shift) - 1), halfway = UInt32(1) << (shift - 1)
            if rest > halfway || (rest == halfway && h & 1 == 1) { h += 1 }
            return sign | UInt16(h)
        }
        var h = UInt32(e) << 10 | mantissa >> 13
        let rest = mantissa & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) { h += 1 }  // may carry into infinity: correct
        return sign | UInt16(h)
    }

    static func float(halfBits h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            let magnitude = Float(mantissa) * Float(bitPattern: 0x3380_0000)  // * 2^-24
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }
}
