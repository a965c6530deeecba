import KestrelKernels
import KestrelModels

/// The text tower (transformers' CLIPTextTransformer, open_clip's text encoder):
///   x = token[ids] + position                    [B, T, W]   T = last end-token position + 1
///   x = blocks(x, causal)                        [B, T, W]
///   embedding = normalise(proj(ln_final(x[b, first end token])))   [B, E]
/// Attention is causal, so tokens after a sequence's end token cannot reach its pooled row: like
/// the inference tower, the graph runs only up to the batch's last end token, and the rows past
/// a sequence's end (filled with id 0) get exactly zero gradient.
extension CLIPGraph {
    /// Token ids laid out for the tower.
    struct TextInput {
        let tokens: Int          // T
        let ids: [Int]           // [B·T], 0 past each sequence's length
        let pools: [Int]         // [B] the pooled position of each sequence
    }

    /// The first end token of each sequence (the last token if it has none), as `TextTransformer`.
    func textInput(_ sequences: [[Int]]) -> TextInput {
        let pools = sequences.map { $0.firstIndex(of: config.endTokenID) ?? max($0.count - 1, 0) }
        let t = (pools.max() ?? 0) + 1
        var ids = [Int](repeating: 0, count: sequences.count * t)
        for (i, s) in sequences.enumerated() {
            for j in 0..<min(t, s.count) { ids[i * t + j] = s[j] }
        }
        return TextInput(tokens: t, ids: ids, pools: pools)
    }

    /// Forward of the batch's texts; leaves the normalised embeddings in s.normalized.
    func textForward(_ p: ParameterPointers, _ s: TowerBuffers, _ input: TextInput, batch b: Int) {
        let c = config, t = input.tokens, w = c.text.width
        TrainOps.embeddingForward(out: s.x[0], table: p.w("text.token"), ids: input.ids, width: w)   // [B, T, W]
        TrainOps.positionAddForward(x: s.x[0], position: p.w("text.position"), batch: b, tokens: t, width: w)
        let layers = c.text.layers
        for l in 0..<(layers - 1) {
            blockForward(p, s, prefix: "text", layer: l, batch: b, tokens: t, causal: true,
                         eps: c.text.layerNormEps, activation: textActivation)
        }
        blockForwardPooled(p, s, prefix: "text", layer: layers - 1, batch: b, tokens: t, pools: input.pools,
                           causal: true, eps: c.text.layerNormEps, activation: textActivation)  // end rows [B, W]
        headForward(p, s, norm: "text.final", projection: "text.projection", batch: b, eps: c.text.layerNormEps)
    }

    /// Backward from s.dNormalized [B, E]; accumulates every trainable text gradient.
    func textBackward(_ p: ParameterPointers, _ s: TowerBuffers, _ input: TextInput, batch b: Int) {
        let c = config, t = input.tokens, w = c.text.width, layers = c.text.layers
        guard p.anyTrainable("text.") else { return }
        headBackward(p, s, norm: "text.final", projection: "text.projection", batch: b)
        let embeddingsTrainable = p.anyTrainable("text.token") || p.anyTrainable("text.position")
        let blockTrainable = (0..<layers).map { p.anyTrainable("text.block\($0).") }
        func needed(below l: Int) -> Bool { embeddingsTrainable || blockTrainable[..<l].contains(true) }
        guard needed(below: layers) else { return }
        blockBackwardPooled(p, s, prefix: "text", layer: layers - 1, batch: b, tokens: t, pools: input.pools,
                            activation: textActivation)                                         // dx = d x[L-1]
        if !needed(below: layers - 1) { return }
        for l in stride(from: layers - 2, through: 0, by: -1) {
            blockBackward(p, s, prefix: "text", layer: l, batch: b, tokens: t, activation: textActivation)
            if !needed(below: l) { return }
        }
        if let dPosition = p.g("text.position") {
            TrainOps.positionAddBackward(dPosition: dPosition, dx: s.dx, batch: b, tokens: t, width: w)
        }
        if let dToken = p.g("text.token") {
            TrainOps.embeddingBackward(dTable: dToken, dOut: s.dx, ids: input.ids, width: w)
        }
    }
}
