#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reference twins of every fast kernel: plain loops over `Tensor.data`, sums in Double,
/// no BLAS, no threads. Same names and semantics; tests compare the fast kernels to these.
public enum NaiveKernels {
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let outDim = weight.shape[0], inDim = weight.shape[1]
        precondition(x.lastDim == inDim, "linear: input last dimension \(x.lastDim) vs weight in \(inDim)")
        let rows = x.count / max(inDim, 1)
        var shape = x.shape
        shape[shape.count - 1] = outDim
        var y = Tensor(shape: shape)
        for r in 0..<rows {
            for o in 0..<outDim {
                var s = Double(bias?.data[o] ?? 0)
                for i in 0..<inDim { s += Double(x.data[r * inDim + i]) * Double(weight.data[o * inDim + i]) }
                y.data[r * outDim + o] = Float(s)
            }
        }
        return y
    }

    public static func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false) -> Tensor {
        batchedMatmul(a.reshaped([1] + a.shape), b.reshaped([1] + b.shape), transposeB: transposeB)
            .reshaped([a.shape[0], transposeB ? b.shape[0] : b.shape[1]])
    }

    public static func batchedMatmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false) -> Tensor {
        let batch = a.shape[0], m = a.shape[1], k = a.shape[2]
        let n = transposeB ? b.shape[1] : b.shape[2]
        precondition(k == (transposeB ? b.shape[2] : b.shape[1]), "batchedMatmul: inner dimensions differ")
        var c = Tensor(shape: [batch, m, n])
        for bi in 0..<batch {
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0
                    for l in 0..<k {
                        let bv = transposeB ? b.data[(bi * n + j) * k + l] : b.data[(bi * k + l) * n + j]
                        s += Double(a.data[(bi * m + i) * k + l]) * Double(bv)
                    }
                    c.data[(bi * m + i) * n + j] = Float(s)
                }
            }
        }
        return c
    }

    public static func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float) -> Tensor {
        let c = x.lastDim
        var y = x
        for r in 0..<x.rows {
            var mean = 0.0
            for j in 0..<c { mean += Double(x.data[r * c + j]) }
            mean /= Double(c)
            var variance = 0.0
            for j in 0..<c { let d = Double(x.data[r * c + j]) - mean; variance += d * d }
            variance /= Double(c)
            let inv = 1 / (variance + Double(eps)).squareRoot()
            for j in 0..<c {
                y.data[r * c + j] = Float((Double(x.data[r * c + j]) - mean) * inv * Double(weight.data[j]) + Double(bias.data[j]))
            }
        }
        return y
    }

    public static func softmax(_ x: inout Tensor) {
        let c = x.lastDim
        for r in 0..<x.rows {
            var m = -Double.infinity
            for j in 0..<c { m = max(m, Double(x.data[r * c + j])) }
            if m == -.infinity {
                for j in 0..<c { x.data[r * c + j] = 0 }
                continue
            }
            var sum = 0.0
            for j in 0..<c { sum += exp(Double(x.data[r * c + j]) - m) }
            for j in 0..<c { x.data[r * c + j] = Float(exp(Double(x.data[r * c + j]) - m) / sum) }
        }
    }

    public static func gelu(_ x: inout Tensor) {
        for i in x.data.indices { let v = Double(x.data[i]); x.data[i] = Float(0.5 * v * (1 + erf(v / 2.0.squareRoot()))) }
    }

    public static func quickGelu(_ x: inout Tensor) {
        for i in x.data.indices { let v = Double(x.data[i]); x.data[i] = Float(v / (1 + exp(-1.702 * v))) }
    }

    public static func geluTanh(_ x: inout Tensor) {
        for i in x.data.indices {
            let v = Double(x.data[i])
            x.data[i] = Float(0.5 * v * (1 + tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v))))
        }
    }

    public static func apply(_ activation: Activation, _ x: inout Tensor) {
        switch activation {
        case .gelu: gelu(&x)
        case .quickGelu: quickGelu(&x)
        case .geluTanh: geluTanh(&x)
        }
    }

    public static func add(_ x: inout Tensor, _ y: Tensor) {
        precondition(x.shape == y.shape, "add: shape \(x.shape) vs \(y.shape)")
        for i in x.data.indices { x.data[i] += y.data[i] }
    }

    public static func addBias(_ x: inout Tensor, _ bias: Tensor) {
        let c = x.lastDim
        for i in x.data.indices { x.data[i] += bias.data[i % c] }
    }

    public static func scale(_ x: inout Tensor, by factor: Float) {
        for i in x.data.indices { x.data[i] *= factor }
    }

    public static func attention(
        query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool, validLengths: [Int]? = nil
    ) -> Tensor {
        let batch = query.shape[0], t = query.shape[1], c = query.shape[2], s = key.shape[1]
        let d = c / heads
        var out = Tensor(shape: [batch, t, c])
        for b in 0..<batch {
            let valid = validLengths?[b] ?? s
            for h in 0..<heads {
                for i in 0..<t {
                    var scores = [Float](repeating: -.infinity, count: s)
                    for j in 0..<s where j < valid && !(causal && j > i) {
                        var dot = 0.0
                        for l in 0..<d {
                            dot += Double(query.data[(b * t + i) * c + h * d + l]) * Double(key.data[(b * s + j) * c + h * d + l])
                        }
                        scores[j] = Float(dot / Double(d).squareRoot())
                    }
                    var row = Tensor(shape: [s], data: scores)
                    softmax(&row)
                    for l in 0..<d {
                        var acc = 0.0
                        for j in 0..<s { acc += Double(row.data[j]) * Double(value.data[(b * s + j) * c + h * d + l]) }
                        out.data[(b * t + i) * c + h * d + l] = Float(acc)
                    }
                }
            }
        }
        return out
    }

    /// Attention over a fused projection qkv `[B, T, 3C]` (q | k | v column blocks) -> `[B, T, C]`:
    /// splits the blocks and runs `attention(query:key:value:...)` above.
    public static func attention(qkv: Tensor, heads: Int, causal: Bool, validLengths: [Int]? = nil) -> Tensor {
        let batch = qkv.shape[0], t = qkv.shape[1], c = qkv.shape[2] / 3
        func block(_ index: Int) -> Tensor {
            var out = Tensor(shape: [batch, t, c])
            for r in 0..<(batch * t) { for j in 0..<c { out.data[r * c + j] = qkv.data[r * 3 * c + index * c + j] } }
            return out
        }
        return attention(query: block(0), key: block(1), value: block(2), heads: heads, causal: causal,
                         validLengths: validLengths)
    }

    public static func patchEmbed(_ images: Tensor, weight: Tensor, patchSize p: Int) -> Tensor {
        let batch = images.shape[0], channels = images.shape[1], height = images.shape[2], width = images.shape[3]
        let outDim = weight.shape[0]
        let gh = height / p, gw = width / p
        var out = Tensor(shape: [batch, gh * gw, outDim])
        for b in 0..<batch {
            for py in 0..<gh {
                for px in 0..<gw {
                    for o in 0..<outDim {
                        var s = 0.0
                        for ch in 0..<channels {
                            for ky in 0..<p {
                                for kx in 0..<p {
                                    let pixel = images.data[((b * channels + ch) * height + py * p + ky) * width + px * p + kx]
                                    let w = weight.data[((o * channels + ch) * p + ky) * p + kx]
                                    s += Double(pixel) * Double(w)
                                }
                            }
                        }
                        out.data[(b * gh * gw + py * gw + px) * outDim + o] = Float(s)
                    }
                }
            }
        }
        return out
    }

    public static func embeddingGather(_ table: Tensor, ids: [Int]) -> Tensor {
        let vocab = table.shape[0], c = table.shape[1]
        var out = Tensor(shape: [ids.count, c])
        for (row, id) in ids.enumerated() {
            precondition(id >= 0 && id < vocab, "embeddingGather: id \(id) out of range 0..<\(vocab)")
            for j in 0..<c { out.data[row * c + j] = table.data[id * c + j] }
        }
        return out
    }

    public static func l2Normalize(_ x: inout Tensor) {
        let c = x.lastDim
        for r in 0..<x.rows {
            var ss = 0.0
            for j in 0..<c { ss += Double(x.data[r * c + j]) * Double(x.data[r * c + j]) }
            let norm = max(ss.squareRoot(), 1e-12)
            for j in 0..<c { x.data[r * c + j] = Float(Double(x.data[r * c + j]) / norm) }
        }
    }
}
