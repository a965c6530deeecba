import KestrelKernels
import KestrelModels

/// One pre-LayerNorm transformer block, forward and backward (transformers' CLIPEncoderLayer,
/// open_clip's ResidualAttentionBlock):
///   xMid = x + out(attention(qkv(ln1(x))));   x' = xMid + fc2(act(fc1(ln2(xMid))))
extension CLIPGraph {
    /// The attention branch of block `l` up to the attention output, shared by the full and the
    /// pooled block: ln1 = LN(x[l]) [R, W]; qkv = ln1·Wqkv + b [R, 3W]; attn = attention(qkv) [R, W].
    func attentionBranchForward(_ p: ParameterPointers, _ s: TowerBuffers, name: (String) -> String, layer l: Int,
                                batch b: Int, tokens t: Int, causal: Bool, eps: Float) {
        TrainOps.layerNormForward(y: s.ln1[l], mean: s.mean1[l], rstd: s.rstd1[l], x: s.x[l],
                                  weight: p.w(name("norm1.weight")), bias: p.w(name("norm1.bias")),
                                  rows: b * t, dim: s.width, eps: eps)                                   // ln1  [R, W]
        TrainOps.linearForward(y: s.qkv[l], x: s.ln1[l], weight: p.w(name("qkv.weight")),
                               bias: p.w(name("qkv.bias")), rows: b * t, inDim: s.width, outDim: 3 * s.width)  // qkv  [R, 3W]
        TrainOps.attentionForward(out: s.attn[l], probs: s.probs[l], qkv: s.qkv[l], batch: b, tokens: t,
                                  width: s.width, heads: s.heads, causal: causal, validLengths: nil)  // attn [R, W]
    }

    /// Block `l` of a tower: reads buffers.x[l], writes buffers.x[l + 1] and what the backward needs.
    func blockForward(_ p: ParameterPointers, _ s: TowerBuffers, prefix: String, layer l: Int, batch b: Int,
                      tokens t: Int, causal: Bool, eps: Float, activation: Activation) {
        let r = b * t, w = s.width, m = s.mlpWidth
        let name = { (n: String) in "\(prefix).block\(l).\(n)" }
        attentionBranchForward(p, s, name: name, layer: l, batch: b, tokens: t, causal: causal, eps: eps)  // attn [R, W]
        TrainOps.linearForward(y: s.xMid[l], x: s.attn[l], weight: p.w(name("out.weight")),
                               bias: p.w(name("out.bias")), rows: r, inDim: w, outDim: w)
        addInPlace(s.xMid[l], s.x[l], r * w)                                                   // xMid = x + out(attn)
        TrainOps.layerNormForward(y: s.ln2[l], mean: s.mean2[l], rstd: s.rstd2[l], x: s.xMid[l],
                                  weight: p.w(name("norm2.weight")), bias: p.w(name("norm2.bias")),
                                  rows: r, dim: w, eps: eps)                                   // ln2  [R, W]
        TrainOps.linearForward(y: s.fc1[l], x: s.ln2[l], weight: p.w(name("fc1.weight")),
                               bias: p.w(name("fc1.bias")), rows: r, inDim: w, outDim: m)      // fc1  [R, M]
        TrainOps.activationForward(activation, y: s.act[l], x: s.fc1[l], count: r * m)         // act  [R, M]
        TrainOps.linearForward(y: s.x[l + 1], x: s.act[l], weight: p.w(name("fc2.weight")),
                               bias: p.w(name("fc2.bias")), rows: r, inDim: m, outDim: w)
        addInPlace(s.x[l + 1], s.xMid[l], r * w)                                               // x' = xMid + fc2(act)
    }

    /// Backward of block `l`: on entry s.dx holds d x[l + 1] [R, W]; on exit d x[l]. Accumulates the
    /// block's parameter gradients (frozen ones get none).
    func blockBackward(_ p: ParameterPointers, _ s: TowerBuffers, prefix: String, layer l: Int, batch b: Int,
                       tokens t: Int, activation: Activation) {
        let r = b * t, w = s.width, m = s.mlpWidth
        let name = { (n: String) in "\(prefix).block\(l).\(n)" }
        // MLP branch: the residual passes dx through; the branch adds to it.
        zero(s.dAct, r * m)
        TrainOps.linearBackward(dx: s.dAct, dWeight: p.g(name("fc2.weight")), dBias: p.g(name("fc2.bias")),
                                dy: s.dx, x: s.act[l], weight: p.w(name("fc2.weight")),
                                rows: r, inDim: m, outDim: w)                                   // dAct [R, M]
        zero(s.dFc1, r * m)
        TrainOps.activationBackward(activation, dx: s.dFc1, dy: s.dAct, x: s.fc1[l], count: r * m)
        zero(s.dLn, r * w)
        TrainOps.linearBackward(dx: s.dLn, dWeight: p.g(name("fc1.weight")), dBias: p.g(name("fc1.bias")),
                                dy: s.dFc1, x: s.ln2[l], weight: p.w(name("fc1.weight")),
                                rows: r, inDim: w, outDim: m)                                   // dLn2 [R, W]
        TrainOps.layerNormBackward(dx: s.dx, dWeight: p.g(name("norm2.weight")), dBias: p.g(name("norm2.bias")),
                                   dy: s.dLn, x: s.xMid[l], mean: s.mean2[l], rstd: s.rstd2[l],
                                   weight: p.w(name("norm2.weight")), rows: r, dim: w)          // dx = d xMid
        // Attention branch.
        zero(s.dAttn, r * w)
        TrainOps.linearBackward(dx: s.dAttn, dWeight: p.g(name("out.weight")), dBias: p.g(name("out.bias")),
                                dy: s.dx, x: s.attn[l], weight: p.w(name("out.weight")),
                                rows: r, inDim: w, outDim: w)                                   // dAttn [R, W]
        zero(s.dQKV, r * 3 * w)
        TrainOps.attentionBackward(dqkv: s.dQKV, dOut: s.dAttn, qkv: s.qkv[l], probs: s.probs[l],
                                   batch: b, tokens: t, width: w, heads: s.heads)               // dQKV [R, 3W]
        zero(s.dLn, r * w)
        TrainOps.linearBackward(dx: s.dLn, dWeight: p.g(name("qkv.weight")), dBias: p.g(name("qkv.bias")),
                                dy: s.dQKV, x: s.ln1[l], weight: p.w(name("qkv.weight")),
                                rows: r, inDim: w, outDim: 3 * w)                               // dLn1 [R, W]
        TrainOps.layerNormBackward(dx: s.dx, dWeight: p.g(name("norm1.weight")), dBias: p.g(name("norm1.bias")),
                                   dy: s.dLn, x: s.x[l], mean: s.mean1[l], rstd: s.rstd1[l],
                                   weight: p.w(name("norm1.weight")), rows: r, dim: w)          // dx = d x[l]
    }

    /// The pooled head forward: s.pooled [B, W] -> LayerNorm -> projection [B, E] -> L2 normalised.
    func headForward(_ p: ParameterPointers, _ s: TowerBuffers, norm: String, projection: String, batch b: Int, eps: Float) {
        TrainOps.layerNormForward(y: s.post, mean: s.postMean, rstd: s.postRstd, x: s.pooled,
                                  weight: p.w(norm + ".weight"), bias: p.w(norm + ".bias"), rows: b, dim: s.width, eps: eps)
        TrainOps.linearForward(y: s.projected, x: s.post, weight: p.w(projection), bias: nil,
                               rows: b, inDim: s.width, outDim: s.embedDim)                     // [B, E]
        TrainOps.l2NormalizeForward(y: s.normalized, norm: s.norm, x: s.projected, rows: b, dim: s.embedDim)
    }

    /// The head's backward: from s.dNormalized [B, E] to s.dPooled [B, W].
    func headBackward(_ p: ParameterPointers, _ s: TowerBuffers, norm: String, projection: String, batch b: Int) {
        let (w, e) = (s.width, s.embedDim)
        zero(s.dProjected, b * e)
        TrainOps.l2NormalizeBackward(dx: s.dProjected, dy: s.dNormalized, y: s.normalized, norm: s.norm, rows: b, dim: e)
        zero(s.dPost, b * w)
        TrainOps.linearBackward(dx: s.dPost, dWeight: p.g(projection), dBias: nil, dy: s.dProjected, x: s.post,
                                weight: p.w(projection), rows: b, inDim: w, outDim: e)
        zero(s.dPooled, b * w)
        TrainOps.layerNormBackward(dx: s.dPooled, dWeight: p.g(norm + ".weight"), dBias: p.g(norm + ".bias"),
                                   dy: s.dPost, x: s.pooled, mean: s.postMean, rstd: s.postRstd,
                                   weight: p.w(norm + ".weight"), rows: b, dim: w)
    }
}
