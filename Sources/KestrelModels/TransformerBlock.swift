import KestrelKernels

/// A pre-LayerNorm transformer block, shared by both towers:
///   x = x + out(attention(q(ln1(x)), k(ln1(x)), v(ln1(x))))
///   x = x + fc2(act(fc1(ln2(x))))
struct TransformerBlock: Sendable {
    let norm1Weight, norm1Bias: Tensor         // [W]
    let qWeight, kWeight, vWeight: Tensor      // [W, W]
    let qBias, kBias, vBias: Tensor            // [W]
    let outWeight, outBias: Tensor             // [W, W], [W]
    let norm2Weight, norm2Bias: Tensor         // [W]
    let fc1Weight, fc1Bias: Tensor             // [M, W], [M]
    let fc2Weight, fc2Bias: Tensor             // [W, M], [W]
    let heads: Int
    let eps: Float
    let activation: Activation

    init(reading reader: WeightReader, tower: String, index i: Int, config c: TowerConfig) throws {
        let (w, m) = (c.width, c.mlpWidth)
        func t(_ name: String, _ shape: [Int]) throws -> Tensor {
            try reader.tensor("\(tower).block{i}.\(name)", block: i, shape: shape)
        }
        norm1Weight = try t("norm1.weight", [w]); norm1Bias = try t("norm1.bias", [w])
        qWeight = try t("q.weight", [w, w]); qBias = try t("q.bias", [w])
        kWeight = try t("k.weight", [w, w]); kBias = try t("k.bias", [w])
        vWeight = try t("v.weight", [w, w]); vBias = try t("v.bias", [w])
        outWeight = try t("out.weight", [w, w]); outBias = try t("out.bias", [w])
        norm2Weight = try t("norm2.weight", [w]); norm2Bias = try t("norm2.bias", [w])
        fc1Weight = try t("fc1.weight", [m, w]); fc1Bias = try t("fc1.bias", [m])
        fc2Weight = try t("fc2.weight", [w, m]); fc2Bias = try t("fc2.bias", [w])
        heads = c.heads
        eps = c.layerNormEps
        activation = try Activation(configName: c.activation)
    }

    /// x: [B, T, W] -> [B, T, W]. `causal` masks keys after each query (the text tower).
    func forward(_ x: Tensor, causal: Bool) -> Tensor {
        let h = layerNorm(x, weight: norm1Weight, bias: norm1Bias, eps: eps)      // [B, T, W]
        let q = linear(h, weight: qWeight, bias: qBias)                            // [B, T, W]
        let k = linear(h, weight: kWeight, bias: kBias)                            // [B, T, W]
        let v = linear(h, weight: vWeight, bias: vBias)                            // [B, T, W]
        let a = attention(query: q, key: k, value: v, heads: heads, causal: causal) // [B, T, W]
        var x1 = linear(a, weight: outWeight, bias: outBias)                       // [B, T, W]
        add(&x1, x)                                                                // residual
        var m = linear(layerNorm(x1, weight: norm2Weight, bias: norm2Bias, eps: eps),
                       weight: fc1Weight, bias: fc1Bias)                           // [B, T, M]
        activation.apply(&m)
        var out = linear(m, weight: fc2Weight, bias: fc2Bias)                      // [B, T, W]
        add(&out, x1)                                                              // residual
        return out
    }
}
