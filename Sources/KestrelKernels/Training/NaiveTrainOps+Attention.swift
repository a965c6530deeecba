import Foundation

// Naive twins: attention, embeddings, L2 normalisation (plain loops, Double accumulation).

extension NaiveTrainOps {
    // MARK: Attention

    /// As `TrainOps.attentionForward` (keys j allowed when j < L_b and, if causal, j <= i).
    public static func attentionForward(
        out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
        batch: Int, tokens T: Int, width W: Int, heads: Int, causal: Bool, validLengths: [Int]?
    ) {
        let d = W / heads
        let scale = 1 / Double(d).squareRoot()
        func q(_ b: Int, _ t: Int, _ part: Int, _ h: Int, _ c: Int) -> Double {
            Double(qkv[(b * T + t) * 3 * W + part * W + h * d + c])
        }
        for b in 0..<batch {
            let L = min(T, max(0, validLengths.map { b < $0.count ? $0[b] : T } ?? T))
            for h in 0..<heads {
                let P = probs + (b * heads + h) * T * T
                for i in 0..<T {
                    var p = [Double](repeating: 0, count: T)
                    if i < L {
                        var scores = [Double](repeating: -Double.infinity, count: T)
                        for j in 0..<T where j < L && (!causal || j <= i) {
                            var s = 0.0
                            for c in 0..<d { s += q(b, i, 0, h, c) * q(b, j, 1, h, c) }
                            scores[j] = s * scale
                        }
                        let m = scores.max()!
                        var z = 0.0
                        for j in 0..<T where scores[j] > -Double.infinity { p[j] = exp(scores[j] - m); z += p[j] }
                        for j in 0..<T { p[j] /= z }
                    }
                    for j in 0..<T { P[i * T + j] = Float(p[j]) }
                    for c in 0..<d {
                        var o = 0.0
                        for j in 0..<T { o += p[j] * q(b, j, 2, h, c) }
                        out[(b * T + i) * W + h * d + c] = Float(o)
                    }
                }
            }
        }
    }

    /// As `TrainOps.attentionBackward`.
    public static func attentionBackward(
        dqkv: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
        probs: UnsafePointer<Float>, batch: Int, tokens T: Int, width W: Int, heads: Int
    ) {
        let d = W / heads
        let scale = 1 / Double(d).squareRoot()
        func at(_ b: Int, _ t: Int, _ part: Int, _ h: Int, _ c: Int) -> Int { (b * T + t) * 3 * W + part * W + h * d + c }
        for b in 0..<batch {
            for h in 0..<heads {
                let P = probs + (b * heads + h) * T * T
                func dO(_ i: Int, _ c: Int) -> Double { Double(dOut[(b * T + i) * W + h * d + c]) }
                var dS = [Double](repeating: 0, count: T * T)
                for i in 0..<T {
                    var dP = [Double](repeating: 0, count: T)
                    for j in 0..<T { for c in 0..<d { dP[j] += dO(i, c) * Double(qkv[at(b, j, 2, h, c)]) } }
                    var dot = 0.0
                    for j in 0..<T { dot += dP[j] * Double(P[i * T + j]) }
                    for j in 0..<T { dS[i * T + j] = Double(P[i * T + j]) * (dP[j] - dot) }
                }
                for j in 0..<T {
                    for c in 0..<d {
                        var dv = 0.0, dk = 0.0
                        for i in 0..<T {
                            dv += Double(P[i * T + j]) * dO(i, c)
                            dk += dS[i * T + j] * Double(qkv[at(b, i, 0, h, c)])
                        }
                        dqkv[at(b, j, 2, h, c)] += Float(dv)
                        dqkv[at(b, j, 1, h, c)] += Float(dk * scale)
                    }
                }
                for i in 0..<T {
                    for c in 0..<d {
                        var dq = 0.0
                        for j in 0..<T { dq += dS[i * T + j] * Double(qkv[at(b, j, 1, h, c)]) }
                        dqkv[at(b, i, 0, h, c)] += Float(dq * scale)
                    }
                }
            }
        }
    }

    // MARK: Embeddings

    /// As `TrainOps.patchEmbedForward` (a direct stride-p convolution).
    public static func patchEmbedForward(
        out: UnsafeMutablePointer<Float>, images: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        batch: Int, channels C: Int, height H: Int, width IW: Int, patch p: Int, embedWidth E: Int
    ) {
        let gh = H / p, gw = IW / p
        for b in 0..<batch {
            for py in 0..<gh {
                for px in 0..<gw {
                    for e in 0..<E {
                        var s = 0.0
                        for c in 0..<C { for ky in 0..<p { for kx in 0..<p {
                            s += Double(images[((b * C + c) * H + py * p + ky) * IW + px * p + kx])
                                * Double(weight[((e * C + c) * p + ky) * p + kx])
                        } } }
                        out[((b * gh + py) * gw + px) * E + e] = Float(s)
                    }
                }
            }
        }
    }

    /// As `TrainOps.patchEmbedBackward`.
    public static func patchEmbedBackward(
        dWeight: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, images: UnsafePointer<Float>,
        batch: Int, channels C: Int, height H: Int, width IW: Int, patch p: Int, embedWidth E: Int
    ) {
        let gh = H / p, gw = IW / p
        for e in 0..<E { for c in 0..<C { for ky in 0..<p { for kx in 0..<p {
            var s = 0.0
            for b in 0..<batch { for py in 0..<gh { for px in 0..<gw {
                s += Double(dOut[((b * gh + py) * gw + px) * E + e])
                    * Double(images[((b * C + c) * H + py * p + ky) * IW + px * p + kx])
            } } }
            dWeight[((e * C + c) * p + ky) * p + kx] += Float(s)
        } } } }
    }

    /// out[n, width] = table[ids[n], width].
    public static func embeddingForward(
        out: UnsafeMutablePointer<Float>, table: UnsafePointer<Float>, ids: [Int], width: Int
    ) {
        for n in 0..<ids.count { for j in 0..<width { out[n * width + j] = table[ids[n] * width + j] } }
    }

    /// dTable[ids[n]] += dOut[n].
    public static func embeddingBackward(
        dTable: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, ids: [Int], width: Int
    ) {
        for n in 0..<ids.count { for j in 0..<width { dTable[ids[n] * width + j] += dOut[n * width + j] } }
    }

    /// x[B, T, W] += position[T, W].
    public static func positionAddForward(
        x: UnsafeMutablePointer<Float>, position: UnsafePointer<Float>, batch: Int, tokens: Int, width: Int
    ) {
        for b in 0..<batch { for i in 0..<(tokens * width) { x[b * tokens * width + i] += position[i] } }
    }

    /// dPosition[T, W] += Σ_b dx[b, T, W].
    public static func positionAddBackward(
        dPosition: UnsafeMutablePointer<Float>, dx: UnsafePointer<Float>, batch: Int, tokens: Int, width: Int
    ) {
        for i in 0..<(tokens * width) {
            var s = 0.0
            for b in 0..<batch { s += Double(dx[b * tokens * width + i]) }
            dPosition[i] += Float(s)
        }
    }

    // MARK: L2 normalisation

    /// y = x / ||x|| per row; writes norm[rows].
    public static func l2NormalizeForward(
        y: UnsafeMutablePointer<Float>, norm: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows: Int, dim: Int
    ) {
        for r in 0..<rows {
            var s = 0.0
            for i in 0..<dim { s += Double(x[r * dim + i]) * Double(x[r * dim + i]) }
            let n = s.squareRoot()
            norm[r] = Float(n)
            for i in 0..<dim { y[r * dim + i] = Float(Double(x[r * dim + i]) / n) }
        }
    }

    /// dx += (dy - y (y·dy)) / norm, per row.
    public static func l2NormalizeBackward(
        dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, y: UnsafePointer<Float>, norm: UnsafePointer<Float>,
        rows: Int, dim: Int
    ) {
        for r in 0..<rows {
            var dot = 0.0
            for i in 0..<dim { dot += Double(y[r * dim + i]) * Double(dy[r * dim + i]) }
            for i in 0..<dim {
                dx[r * dim + i] += Float((Double(dy[r * dim + i]) - Double(y[r * dim + i]) * dot) / Double(norm[r]))
            }
        }
    }
}
