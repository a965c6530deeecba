import KestrelKernels
import KestrelModels

/// The last block of a tower on the rows it pools only (the class token; each text's end token),
/// as the inference towers do: keys and values come from every token, but the out-projection,
/// the second LayerNorm and the MLP run on B rows instead of B·T (for the vision tower 1 row in 50:
/// about an eighth of the graph's products at the default shape). Same math as `blockForward`
/// followed by a gather of the pooled rows.
extension CLIPGraph {
    /// Block `l` (the last): reads s.x[l]; writes the pooled rows of its output to s.pooled [B, W].
    func blockForwardPooled(_ p: ParameterPointers, _ s: TowerBuffers, prefix: String, layer l: Int, batch b: Int,
                            tokens t: Int, pools: [Int], causal: Bool, eps: Float, activation: Activation) {
        let w = s.width, m = s.mlpWidth
        let name = { (n: String) in "\(prefix).block\(l).\(n)" }
        attentionBranchForward(p, s, name: name, layer: l, batch: b, tokens: t, causal: causal, eps: eps)  // attn [R, W]
        for i in 0..<b {                                                                       // pooled rows [B, W]
            (s.gatheredAttn + i * w).update(from: s.attn[l] + (i * t + pools[i]) * w, count: w)
            (s.gatheredX + i * w).update(from: s.x[l] + (i * t + pools[i]) * w, count: w)
        }
        let mid = s.xMid[l], ln2 = s.ln2[l], fc1 = s.fc1[l], act = s.act[l]                   // first B rows used
        TrainOps.linearForward(y: mid, x: s.gatheredAttn, weight: p.w(name("out.weight")),
                               bias: p.w(name("out.bias")), rows: b, inDim: w, outDim: w)
        addInPlace(mid, s.gatheredX, b * w)                                                    // mid  [B, W]
        TrainOps.layerNormForward(y: ln2, mean: s.mean2[l], rstd: s.rstd2[l], x: mid,
                                  weight: p.w(name("norm2.weight")), bias: p.w(name("norm2.bias")),
                                  rows: b, dim: w, eps: eps)
        TrainOps.linearForward(y: fc1, x: ln2, weight: p.w(name("fc1.weight")),
                               bias: p.w(name("fc1.bias")), rows: b, inDim: w, outDim: m)      // [B, M]
        TrainOps.activationForward(activation, y: act, x: fc1, count: b * m)
        TrainOps.linearForward(y: s.pooled, x: act, weight: p.w(name("fc2.weight")),
                               bias: p.w(name("fc2.bias")), rows: b, inDim: m, outDim: w)
        addInPlace(s.pooled, mid, b * w)                                                       // pooled [B, W]
    }

    /// Backward of `blockForwardPooled`: from s.dPooled [B, W] to s.dx = d x[l] [R, W]. `extraDQKV`
    /// [R, 3W], when given, is another path's gradient of this block's qkv, added before its backward.
    func blockBackwardPooled(_ p: ParameterPointers, _ s: TowerBuffers, prefix: String, layer l: Int, batch b: Int,
                             tokens t: Int, pools: [Int], activation: Activation, extraDQKV: FloatPointer? = nil) {
        let r = b * t, w = s.width, m = s.mlpWidth
        let name = { (n: String) in "\(prefix).block\(l).\(n)" }
        let mid = s.xMid[l], ln2 = s.ln2[l], fc1 = s.fc1[l], act = s.act[l]
        s.dMid.update(from: s.dPooled, count: b * w)                                           // residual
        zero(s.dAct, b * m)
        TrainOps.linearBackward(dx: s.dAct, dWeight: p.g(name("fc2.weight")), dBias: p.g(name("fc2.bias")),
                                dy: s.dPooled, x: act, weight: p.w(name("fc2.weight")), rows: b, inDim: m, outDim: w)
        zero(s.dFc1, b * m)
        TrainOps.activationBackward(activation, dx: s.dFc1, dy: s.dAct, x: fc1, count: b * m)
        zero(s.dLn, b * w)
        TrainOps.linearBackward(dx: s.dLn, dWeight: p.g(name("fc1.weight")), dBias: p.g(name("fc1.bias")),
                                dy: s.dFc1, x: ln2, weight: p.w(name("fc1.weight")), rows: b, inDim: w, outDim: m)
        TrainOps.layerNormBackward(dx: s.dMid, dWeight: p.g(name("norm2.weight")), dBias: p.g(name("norm2.bias")),
                                   dy: s.dLn, x: mid, mean: s.mean2[l], rstd: s.rstd2[l],
                                   weight: p.w(name("norm2.weight")), rows: b, dim: w)         // dMid [B, W]
        zero(s.dGatheredAttn, b * w)
        TrainOps.linearBackward(dx: s.dGatheredAttn, dWeight: p.g(name("out.weight")), dBias: p.g(name("out.bias")),
                                dy: s.dMid, x: s.gatheredAttn, weight: p.w(name("out.weight")), rows: b, inDim: w, outDim: w)
        zero(s.dAttn, r * w)
        zero(s.dx, r * w)
        for i in 0..<b {                                                                       // scatter to rows
            (s.dAttn + (i * t + pools[i]) * w).update(from: s.dGatheredAttn + i * w, count: w)
            (s.dx + (i * t + pools[i]) * w).update(from: s.dMid + i * w, count: w)
        }
        zero(s.dQKV, r * 3 * w)
        TrainOps.attentionBackward(dqkv: s.dQKV, dOut: s.dAttn, qkv: s.qkv[l], probs: s.probs[l],
                                   batch: b, tokens: t, width: w, heads: s.heads)               // dQKV [R, 3W]
        if let extraDQKV { addInPlace(s.dQKV, extraDQKV, r * 3 * w) }                          // + the dense path's (CLIPGraph+Dense)
        zero(s.dLn, r * w)
        TrainOps.linearBackward(dx: s.dLn, dWeight: p.g(name("qkv.weight")), dBias: p.g(name("qkv.bias")),
                                dy: s.dQKV, x: s.ln1[l], weight: p.w(name("qkv.weight")), rows: r, inDim: w, outDim: 3 * w)
        TrainOps.layerNormBackward(dx: s.dx, dWeight: p.g(name("norm1.weight")), dBias: p.g(name("norm1.bias")),
                                   dy: s.dLn, x: s.x[l], mean: s.mean1[l], rstd: s.rstd1[l],
                                   weight: p.w(name("norm1.weight")), rows: r, dim: w)          // dx = d x[l]
    }
}
