import KestrelModels

typealias FloatPointer = UnsafeMutablePointer<Float>

/// Float buffers allocated once and freed together (llm.c's activation arena).
final class BufferArena {
    private var blocks: [FloatPointer] = []
    private(set) var floats = 0

    /// A zeroed buffer of `count` floats, alive as long as the arena.
    func make(_ count: Int) -> FloatPointer {
        let p = FloatPointer.allocate(capacity: max(count, 1))
        p.initialize(repeating: 0, count: max(count, 1))
        blocks.append(p)
        floats += count
        return p
    }

    deinit { for p in blocks { p.deallocate() } }
}

/// What one tower's forward keeps for its backward, and the backward's scratch, for at most
/// `batch` samples of `tokens` tokens (R = batch · tokens rows). A batch with fewer tokens (the
/// text tower runs only up to its last end token) uses the first rows of each buffer.
final class TowerBuffers {
    let batch, tokens, width, mlpWidth, heads, layers, embedDim: Int
    var rows: Int { batch * tokens }
    /// x[l]: the input of block l; x[layers] the tower's output. layers + 1 of [R, W]
    let x: [FloatPointer]
    let ln1, attn, xMid, ln2: [FloatPointer]             // per block [R, W]
    let mean1, rstd1, mean2, rstd2: [FloatPointer]       // per block [R]
    let qkv: [FloatPointer]                              // per block [R, 3W]
    let probs: [FloatPointer]                            // per block [B, H, T, T]
    let fc1, act: [FloatPointer]                         // per block [R, M]
    // The pooled head: pooled rows -> LayerNorm -> projection -> L2 normalisation.
    let pooled, post: FloatPointer                       // [B, W]
    let postMean, postRstd, norm: FloatPointer           // [B]
    let projected, normalized: FloatPointer              // [B, E]
    // Backward scratch (shared by all blocks; zeroed before each use).
    let dx, dLn, dAttn: FloatPointer                     // [R, W]
    let dQKV: FloatPointer                               // [R, 3W]
    let dAct, dFc1: FloatPointer                         // [R, M]
    let dNormalized, dProjected: FloatPointer            // [B, E]
    let dPost, dPooled: FloatPointer                     // [B, W]
    // The last block on its pooled rows only (`blockForwardPooled`).
    let gatheredAttn, gatheredX, dMid, dGatheredAttn: FloatPointer   // [B, W]
    let arena = BufferArena()

    init(batch b: Int, tokens t: Int, tower: TowerConfig, embedDim e: Int) {
        batch = b; tokens = t; width = tower.width; mlpWidth = tower.mlpWidth; heads = tower.heads
        layers = tower.layers; embedDim = e
        let r = b * t, w = tower.width, m = tower.mlpWidth, n = tower.layers
        let a = arena
        func each(_ count: Int) -> [FloatPointer] { (0..<n).map { _ in a.make(count) } }
        x = (0...n).map { _ in a.make(r * w) }
        ln1 = each(r * w); attn = each(r * w); xMid = each(r * w); ln2 = each(r * w)
        mean1 = each(r); rstd1 = each(r); mean2 = each(r); rstd2 = each(r)
        qkv = each(r * 3 * w)
        probs = each(b * tower.heads * t * t)
        fc1 = each(r * m); act = each(r * m)
        pooled = a.make(b * w); post = a.make(b * w)
        postMean = a.make(b); postRstd = a.make(b); norm = a.make(b)
        projected = a.make(b * e); normalized = a.make(b * e)
        dx = a.make(r * w); dLn = a.make(r * w); dAttn = a.make(r * w)
        dQKV = a.make(r * 3 * w)
        dAct = a.make(r * m); dFc1 = a.make(r * m)
        dNormalized = a.make(b * e); dProjected = a.make(b * e)
        dPost = a.make(b * w); dPooled = a.make(b * w)
        gatheredAttn = a.make(b * w); gatheredX = a.make(b * w); dMid = a.make(b * w); dGatheredAttn = a.make(b * w)
    }
}

/// The vision tower's extra buffers: patch embeddings and the pre-LayerNorm's input.
final class VisionBuffers {
    let tower: TowerBuffers
    let patches: FloatPointer                            // [B, P, W]
    let embedded: FloatPointer                           // [B, N, W]  class | patches, + position
    let preMean, preRstd: FloatPointer                   // [B·N]
    let dEmbedded: FloatPointer                          // [B, N, W]
    let dPatches: FloatPointer                           // [B, P, W]

    init(batch b: Int, config c: CLIPConfig) {
        let n = c.visionTokens, w = c.vision.width
        tower = TowerBuffers(batch: b, tokens: n, tower: c.vision, embedDim: c.embedDim)
        let a = tower.arena
        patches = a.make(b * (n - 1) * w); embedded = a.make(b * n * w)
        preMean = a.make(b * n); preRstd = a.make(b * n)
        dEmbedded = a.make(b * n * w); dPatches = a.make(b * (n - 1) * w)
    }
}

/// Both towers' buffers for one batch size (the text tower's for the full context).
final class GraphBuffers {
    let batch: Int
    let vision: VisionBuffers
    let text: TowerBuffers

    init(batch b: Int, config c: CLIPConfig) {
        batch = b
        vision = VisionBuffers(batch: b, config: c)
        text = TowerBuffers(batch: b, tokens: c.contextLength, tower: c.text, embedDim: c.embedDim)
    }
}

/// Named pointers into a ParameterSet's values and gradients for the length of one call.
struct ParameterPointers {
    let set: ParameterSet
    let values: FloatPointer
    let gradients: FloatPointer

    /// The values of tensor `name`.
    func w(_ name: String) -> FloatPointer { values + set.view(name).offset }
    /// The gradient of `name`, nil when frozen (or when gradients are not wanted).
    func g(_ name: String) -> FloatPointer? {
        let v = set.view(name)
        return v.trainable ? gradients + v.offset : nil
    }
    /// Whether any tensor whose name starts with `prefix` is trainable.
    func anyTrainable(_ prefix: String) -> Bool {
        set.views.contains { $0.trainable && $0.name.hasPrefix(prefix) }
    }
}

@inline(__always) func zero(_ p: FloatPointer, _ count: Int) { p.update(repeating: 0, count: count) }

/// y[i] += x[i].
@inline(__always) func addInPlace(_ y: FloatPointer, _ x: UnsafePointer<Float>, _ count: Int) {
    for i in 0..<count { y[i] += x[i] }
}
