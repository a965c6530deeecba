import Foundation
import KestrelKernels

/// The naive twin of the towers: the unfused, Tensor-level forward (separate q, k, v products,
/// bias, activation and residual as their own ops, a new tensor per op, weights kept as fp32
/// tensors) that the model ran before it moved onto the GEMM seam. Tests compare `CLIPModel`
/// against it; it is never on a hot path.
struct NaiveCLIP {
    struct Block {
        var t: [String: Tensor] = [:]
        let heads: Int
        let eps: Float
        let activation: Activation

        /// x: [B, T, W] -> [B, T, W].
        func forward(_ x: Tensor, causal: Bool) -> Tensor {
            let h = layerNorm(x, weight: t["norm1.weight"]!, bias: t["norm1.bias"]!, eps: eps)
            let q = linear(h, weight: t["q.weight"]!, bias: t["q.bias"]!)
            let k = linear(h, weight: t["k.weight"]!, bias: t["k.bias"]!)
            let v = linear(h, weight: t["v.weight"]!, bias: t["v.bias"]!)
            let a = attention(query: q, key: k, value: v, heads: heads, causal: causal)
            var x1 = linear(a, weight: t["out.weight"]!, bias: t["out.bias"]!)
            add(&x1, x)
            var m = linear(layerNorm(x1, weight: t["norm2.weight"]!, bias: t["norm2.bias"]!, eps: eps),
                           weight: t["fc1.weight"]!, bias: t["fc1.bias"]!)
            activation.apply(&m)
            var out = linear(m, weight: t["fc2.weight"]!, bias: t["fc2.bias"]!)
            add(&out, x1)
            return out
        }
    }

    let config: CLIPConfig
    var g: [String: Tensor] = [:]
    var vision: [Block] = []
    var text: [Block] = []

    init(directory: URL) throws {
        let (layout, configURL, weightsURL) = try CLIPModel.detectLayout(directory)
        config = try .load(configURL, layout: layout)
        let r = WeightReader(file: try SafeTensorsFile(url: weightsURL), layout: layout)
        let c = config
        let (vw, tw, e) = (c.vision.width, c.text.width, c.embedDim)
        let shapes: [(String, [Int])] = [
            ("vision.patch", [vw, 3, c.patchSize, c.patchSize]), ("vision.class", [vw]), ("vision.position", [c.visionTokens, vw]),
            ("vision.pre.weight", [vw]), ("vision.pre.bias", [vw]), ("vision.post.weight", [vw]), ("vision.post.bias", [vw]),
            ("vision.projection", [e, vw]), ("text.token", [c.vocabSize, tw]), ("text.position", [c.contextLength, tw]),
            ("text.final.weight", [tw]), ("text.final.bias", [tw]), ("text.projection", [e, tw]),
        ]
        for (name, shape) in shapes { g[name] = try r.tensor(name, shape: shape) }
        func blocks(_ tower: String, _ tc: TowerConfig) throws -> [Block] {
            let (w, m) = (tc.width, tc.mlpWidth)
            let shapes: [(String, [Int])] = [
                ("norm1.weight", [w]), ("norm1.bias", [w]), ("q.weight", [w, w]), ("q.bias", [w]), ("k.weight", [w, w]),
                ("k.bias", [w]), ("v.weight", [w, w]), ("v.bias", [w]), ("out.weight", [w, w]), ("out.bias", [w]),
                ("norm2.weight", [w]), ("norm2.bias", [w]), ("fc1.weight", [m, w]), ("fc1.bias", [m]),
                ("fc2.weight", [w, m]), ("fc2.bias", [w]),
            ]
            return try (0..<tc.layers).map { i in
                var b = Block(heads: tc.heads, eps: tc.layerNormEps, activation: try Activation(configName: tc.activation))
                for (name, shape) in shapes { b.t[name] = try r.tensor("\(tower).block{i}.\(name)", block: i, shape: shape) }
                return b
            }
        }
        vision = try blocks("vision", c.vision)
        text = try blocks("text", c.text)
    }

    /// pixels: [B, 3, S, S] -> [B, E].
    func encodeImages(_ pixels: Tensor) -> Tensor {
        let b = pixels.shape[0], eps = config.vision.layerNormEps
        let patches = NaiveKernels.patchEmbed(pixels, weight: g["vision.patch"]!, patchSize: config.patchSize)
        let (n, w) = (patches.shape[1], patches.shape[2])
        let cls = g["vision.class"]!.data, pos = g["vision.position"]!.data
        var x = Tensor(shape: [b, n + 1, w])
        for i in 0..<b {
            let base = i * (n + 1) * w
            for c in 0..<w { x.data[base + c] = cls[c] + pos[c] }
            for t in 0..<n { for c in 0..<w { x.data[base + (t + 1) * w + c] = patches.data[(i * n + t) * w + c] + pos[(t + 1) * w + c] } }
        }
        x = layerNorm(x, weight: g["vision.pre.weight"]!, bias: g["vision.pre.bias"]!, eps: eps)
        for block in vision { x = block.forward(x, causal: false) }
        var pooled = Tensor(shape: [b, w])
        for i in 0..<b { for c in 0..<w { pooled.data[i * w + c] = x.data[i * (n + 1) * w + c] } }
        pooled = layerNorm(pooled, weight: g["vision.post.weight"]!, bias: g["vision.post.bias"]!, eps: eps)
        return NaiveKernels.linear(pooled, weight: g["vision.projection"]!, bias: nil)
    }

    /// B sequences of token ids -> [B, E] (each sequence run on its own, at its own length).
    func encodeText(_ sequences: [[Int]]) -> Tensor {
        let e = config.embedDim, w = config.text.width
        var out = Tensor(shape: [sequences.count, e])
        for (s, ids) in sequences.enumerated() {
            let t = (ids.firstIndex(of: config.endTokenID) ?? (ids.count - 1)) + 1
            var x = NaiveKernels.embeddingGather(g["text.token"]!, ids: Array(ids[..<t]))
            for j in 0..<t { for c in 0..<w { x.data[j * w + c] += g["text.position"]!.data[j * w + c] } }
            x.reshape([1, t, w])
            for block in text { x = block.forward(x, causal: true) }
            var pooled = Tensor(shape: [1, w], data: Array(x.data[((t - 1) * w)..<(t * w)]))
            pooled = layerNorm(pooled, weight: g["text.final.weight"]!, bias: g["text.final.bias"]!, eps: config.text.layerNormEps)
            let y = NaiveKernels.linear(pooled, weight: g["text.projection"]!, bias: nil)
            out.data.replaceSubrange((s * e)..<((s + 1) * e), with: y.data)
        }
        return out
    }
}

extension NaiveCLIP {
    /// Naive twin of `VisionTransformer.denseFeatures`: pixels [B, 3, S, S] -> [B, N, E], the
    /// last block replaced by `method` as plain Tensor ops and loops (separate q, k, v products,
    /// attention with the NACLIP prior written out in double precision).
    func denseFeatures(_ pixels: Tensor, method: DenseMethod) -> Tensor {
        let b = pixels.shape[0], eps = config.vision.layerNormEps
        let patches = NaiveKernels.patchEmbed(pixels, weight: g["vision.patch"]!, patchSize: config.patchSize)
        let (n, w) = (patches.shape[1], patches.shape[2])
        let t = n + 1, grid = Int(Double(n).squareRoot().rounded())
        let cls = g["vision.class"]!.data, pos = g["vision.position"]!.data
        var x = Tensor(shape: [b, t, w])
        for i in 0..<b {
            let base = i * t * w
            for c in 0..<w { x.data[base + c] = cls[c] + pos[c] }
            for j in 0..<n { for c in 0..<w { x.data[base + (j + 1) * w + c] = patches.data[(i * n + j) * w + c] + pos[(j + 1) * w + c] } }
        }
        x = layerNorm(x, weight: g["vision.pre.weight"]!, bias: g["vision.pre.bias"]!, eps: eps)
        for block in vision.dropLast() { x = block.forward(x, causal: false) }
        var y = x                                                            // [B, T, W]
        if let last = vision.last {
            let bt = last.t
            let h = layerNorm(x, weight: bt["norm1.weight"]!, bias: bt["norm1.bias"]!, eps: last.eps)
            let q = linear(h, weight: bt["q.weight"]!, bias: bt["q.bias"]!)
            let k = linear(h, weight: bt["k.weight"]!, bias: bt["k.bias"]!)
            let v = linear(h, weight: bt["v.weight"]!, bias: bt["v.bias"]!)
            let a: Tensor
            switch method {
            case .maskCLIP: a = v
            case .clearCLIP: a = NaiveKernels.attention(query: q, key: q, value: v, heads: last.heads, causal: false)
            case .naclip: a = Self.biasedAttention(k, k, v, heads: last.heads, grid: grid)
            }
            y = linear(a, weight: bt["out.weight"]!, bias: bt["out.bias"]!)
        }
        var p = Tensor(shape: [b * n, w])
        for i in 0..<b { for j in 0..<n { for c in 0..<w { p.data[(i * n + j) * w + c] = y.data[(i * t + j + 1) * w + c] } } }
        p = layerNorm(p, weight: g["vision.post.weight"]!, bias: g["vision.post.bias"]!, eps: eps)
        return NaiveKernels.linear(p, weight: g["vision.projection"]!, bias: nil).reshaped([b, n, config.embedDim])
    }

    /// softmax(s kᵀ / √d + G) v per head, G NACLIP's Gaussian prior between patch tokens (σ =
    /// `DenseMethod.naclipSigma` grid cells), 0 for pairs with token 0. s, k, v: [B, T, C].
    static func biasedAttention(_ s: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, grid: Int) -> Tensor {
        let b = s.shape[0], t = s.shape[1], c = s.shape[2], d = c / heads
        let sigma = DenseMethod.naclipSigma
        var out = Tensor(shape: [b, t, c])
        for bi in 0..<b { for h in 0..<heads { for i in 0..<t {
            var scores = [Double](repeating: 0, count: t)
            for j in 0..<t {
                var dot = 0.0
                for l in 0..<d { dot += Double(s.data[(bi * t + i) * c + h * d + l]) * Double(k.data[(bi * t + j) * c + h * d + l]) }
                scores[j] = dot / Double(d).squareRoot()
                if i > 0 && j > 0 {
                    let dy = Double((i - 1) / grid - (j - 1) / grid), dx = Double((i - 1) % grid - (j - 1) % grid)
                    scores[j] += exp(-(dy * dy + dx * dx) / (2 * sigma * sigma))
                }
            }
            let top = scores.max()!
            let e = scores.map { exp($0 - top) }, sum = e.reduce(0, +)
            for l in 0..<d {
                var acc = 0.0
                for j in 0..<t { acc += e[j] / sum * Double(v.data[(bi * t + j) * c + h * d + l]) }
                out.data[(bi * t + i) * c + h * d + l] = Float(acc)
            }
        } } }
        return out
    }
}
