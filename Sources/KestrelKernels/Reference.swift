import Foundation

/// Naive twins of every fast kernel: plain loops, double-precision accumulation, no BLAS, no
/// threads, no SIMD. Obviously correct and slow; tests compare the fast kernels against these.
/// Same names, shapes and semantics as the free functions.
public enum Reference {
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let outDim = weight.shape[0], inDim = weight.shape[1]
        precondition(x.lastDim == inDim, "Reference.linear: \(x.shape) vs weight \(weight.shape)")
        let rows = x.shape.dropLast().reduce(1, *)
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
        let batched = batchedMatmul(a.reshaped([1] + a.shape), b.reshaped([1] + b.shape), transposeB: transposeB)
        return batched.reshaped(Array(batched.shape.dropFirst()))
    }

    public static func batchedMatmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false) -> Tensor {
        let batch = a.shape[0], m = a.shape[1], k = a.shape[2]
        let n = transposeB ? b.shape[1] : b.shape[2]
        precondition(k == (transposeB ? b.shape[2] : b.shape[1]), "Reference.batchedMatmul: \(a.shape) vs \(b.shape)")
        var c = Tensor(shape: [batch, m, n])
        for z in 0..<batch {
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0
                    for l in 0..<k {
                        let bv = transposeB ? b.data[(z * n + j) * k + l] : b.data[(z * k + l) * n + j]
                        s += Double(a.data[(z * m + i) * k + l]) * Double(bv)
                    }
                    c.data[(z * m + i) * n + j] = Float(s)
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
            if m == -.infinity {  // every entry masked
                for j in 0..<c { x.data[r * c + j] = 0 }
                continue
            }
            var sum = 0.0
            for j in 0..<c { sum += Foundation.exp(Double(x.data[r * c + j]) - m) }
            for j in 0..<c { x.data[r * c + j] = Float(Foundation.exp(Double(x.data[r * c + j]) - m) / sum) }
        }
    }

    public static func gelu(_ x: inout Tensor) {
        for i in x.data.indices {
            let v = Double(x.data[i])
            x.data[i] = Float(0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot())))
        }
    }

    public static func quickGelu(_ x: inout Tensor) {
        for i in x.data.indices {
            let v = Double(x.data[i])
            x.data[i] = Float(v / (1 + Foundation.exp(-1.702 * v)))
        }
    }

    public static func geluTanh(_ x: inout Tensor) {
        for i in x.data.indices {
            let v = Double(x.data[i])
            x.data[i] = Float(0.5 * v * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v))))
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
        precondition(x.shape == y.shape, "Reference.add: \(x.shape) vs \(y.shape)")
        for i in x.data.indices { x.data[i] += y.data[i] }
    }

    public static func addBias(_ x: inout Tensor, _ bias: Tensor) {
        let c = x.lastDim
        for i in x.data.indices { x.data[i] += bias.data[i % c] }
    }

    public static func scale(_ x: inout Tensor, by factor: Float) {
        for i in x.data.indices { x.data[i] *= factor }
    }

    public static func l2Normalize(_ x: inout Tensor) {
        let c = x.lastDim
        for r in 0..<x.rows {
            var s = 0.0
            for j in 0..<c { s += Double(x.data[r * c + j]) * Double(x.data[r * c + j]) }
            let norm = max(s.squareRoot(), 1e-12)
            for j in 0..<c { x.data[r * c + j] = Float(Double(x.data[r * c + j]) / norm) }
        }
    }

    public static func attention(
        query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool, validLengths: [Int]? = nil
    ) -> Tensor {
        let batch = query.shape[0], t = query.shape[1], c = query.shape[2], d = c / heads
        var out = Tensor(shape: [batch, t, c])
        let scale = 1 / Double(d).squareRoot()
        for b in 0..<batch {
            let keys = validLengths?[b] ?? t
            for h in 0..<heads {
                for i in 0..<t {
                    // Scores of query i against every unmasked key j.
                    var scores = [Double]()
                    for j in 0..<t where j < keys && !(causal && j > i) {
                        var s = 0.0
                        for e in 0..<d {
                            s += Double(query.data[(b * t + i) * c + h * d + e]) * Double(key.data[(b * t + j) * c + h * d + e])
                        }
                        scores.append(s * scale)
                    }
                    guard let m = scores.max() else { continue }  // nothing to attend to: zeros
                    let e = scores.map { Foundation.exp($0 - m) }
                    let sum = e.reduce(0, +)
                    for f in 0..<d {
                        var s = 0.0
                        for (j, p) in e.enumerated() { s += p / sum * Double(value.data[(b * t + j) * c + h * d + f]) }
                        out.data[(b * t + i) * c + h * d + f] = Float(s)
                    }
                }
            }
        }
        return out
    }

    /// Direct convolution with stride = kernel = `patchSize`, no bias.
    public static func patchEmbed(_ images: Tensor, weight: Tensor, patchSize p: Int) -> Tensor {
        let batch = images.shape[0], channels = images.shape[1], h = images.shape[2], w = images.shape[3]
        let outChannels = weight.shape[0], gh = h / p, gw = w / p
        var out = Tensor(shape: [batch, gh * gw, outChannels])
        for b in 0..<batch {
            for py in 0..<gh {
                for px in 0..<gw {
                    for o in 0..<outChannels {
                        var s = 0.0
                        for ch in 0..<channels {
                            for ky in 0..<p {
                                for kx in 0..<p {
                                    let pixel = images.data[((b * channels + ch) * h + py * p + ky) * w + px * p + kx]
                                    let wv = weight.data[((o * channels + ch) * p + ky) * p + kx]
                                    s += Double(pixel) * Double(wv)
                                }
                            }
                        }
                        out.data[(b * gh * gw + py * gw + px) * outChannels + o] = Float(s)
                    }
                }
            }
        }
        return out
    }

    public static func embeddingGather(_ table: Tensor, ids: [Int]) -> Tensor {
        let c = table.shape[1]
        var out = Tensor(shape: [ids.count, c])
        for (i, id) in ids.enumerated() {
            precondition(id >= 0 && id < table.shape[0], "Reference.embeddingGather: id \(id) out of range")
            for j in 0..<c { out.data[i * c + j] = table.data[id * c + j] }
        }
        return out
    }
}
