// Forward and backward passes for training, in llm.c's shape: `<op>Forward` writes its output
// (never over its input) and what `<op>Backward` needs; `<op>Backward` ACCUMULATES (`+=`) into
// every gradient it is given (callers zero gradients once per step). Row-major, PyTorch layouts:
// a linear weight is [out, in]; activations are [rows, channels]; images [B, 3, H, W].
// A nil gradient pointer means "not needed" (a frozen tensor, or an input such as pixels).
//
// Every op here has a naive twin in `NaiveTrainOps` (Double accumulation, plain loops) that the
// tests compare against, and a finite-difference check on odd shapes.
//
// SKELETON: signatures fixed by the lead; bodies are filled in by the kernels work.

/// Training kernels (forward keeps what backward needs; backward accumulates).
public enum TrainOps {
    // MARK: Linear / GEMM

    /// y[rows, outDim] = x[rows, inDim] · weight[outDim, inDim]^T (+ bias[outDim]).
    public static func linearForward(
        y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, rows: Int, inDim: Int, outDim: Int
    ) { fatalError("TrainOps.linearForward: not implemented yet") }

    /// dx += dy · weight;  dWeight += dy^T · x;  dBias += Σ_rows dy.
    public static func linearBackward(
        dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rows: Int, inDim: Int, outDim: Int
    ) { fatalError("TrainOps.linearBackward: not implemented yet") }

    // MARK: LayerNorm (biased variance, as PyTorch)

    /// y = (x - mean) * rstd * weight + bias, per row of `dim`; writes mean[rows] and rstd[rows].
    public static func layerNormForward(
        y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        rows: Int, dim: Int, eps: Float
    ) { fatalError("TrainOps.layerNormForward: not implemented yet") }

    /// Accumulates dx, dWeight, dBias from dy, using the forward's x, mean and rstd.
    public static func layerNormBackward(
        dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, rows: Int, dim: Int
    ) { fatalError("TrainOps.layerNormBackward: not implemented yet") }

    // MARK: Activations (GELU erf, QuickGELU, tanh-GELU)

    /// y[i] = f(x[i]).
    public static func activationForward(
        _ activation: Activation, y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int
    ) { fatalError("TrainOps.activationForward: not implemented yet") }

    /// dx[i] += f'(x[i]) · dy[i].
    public static func activationBackward(
        _ activation: Activation, dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
        count: Int
    ) { fatalError("TrainOps.activationBackward: not implemented yet") }

    // MARK: Softmax (rows)

    /// y = softmax(x) per row of `columns`.
    public static func softmaxForward(
        y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows: Int, columns: Int
    ) { fatalError("TrainOps.softmaxForward: not implemented yet") }

    /// dx += y ⊙ (dy - Σ_j dy_j y_j), per row.
    public static func softmaxBackward(
        dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, y: UnsafePointer<Float>, rows: Int, columns: Int
    ) { fatalError("TrainOps.softmaxBackward: not implemented yet") }

    // MARK: Multi-head self-attention on a fused projection

    /// qkv[B, T, 3W] (q | k | v column blocks, heads of W/heads inside each) -> out[B, T, W];
    /// writes probs[B, heads, T, T] (the softmax of q·k^T/sqrt(d), zero where masked).
    /// `causal`: token i sees j <= i. `validLengths` (nil: all T): keys j >= validLengths[b] are
    /// masked (padding); query rows at or past validLengths[b] get out = 0 and probs = 0.
    public static func attentionForward(
        out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
        batch: Int, tokens: Int, width: Int, heads: Int, causal: Bool, validLengths: [Int]?
    ) { fatalError("TrainOps.attentionForward: not implemented yet") }

    /// dqkv[B, T, 3W] += the gradient of out with respect to qkv, from dOut[B, T, W] and the
    /// forward's qkv and probs (masks are carried by the zeros in probs).
    public static func attentionBackward(
        dqkv: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
        probs: UnsafePointer<Float>, batch: Int, tokens: Int, width: Int, heads: Int
    ) { fatalError("TrainOps.attentionBackward: not implemented yet") }

    // MARK: Embeddings

    /// Patch embedding (a stride-p convolution without bias): images[B, 3, H, W] and
    /// weight[width, 3, p, p] -> out[B, (H/p)·(W/p), width], patches in row-major grid order.
    public static func patchEmbedForward(
        out: UnsafeMutablePointer<Float>, images: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        batch: Int, channels: Int, height: Int, width imageWidth: Int, patch: Int, embedWidth: Int
    ) { fatalError("TrainOps.patchEmbedForward: not implemented yet") }

    /// dWeight[width, 3, p, p] += the weight gradient from dOut[B, P, width] (pixels get none).
    public static func patchEmbedBackward(
        dWeight: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, images: UnsafePointer<Float>,
        batch: Int, channels: Int, height: Int, width imageWidth: Int, patch: Int, embedWidth: Int
    ) { fatalError("TrainOps.patchEmbedBackward: not implemented yet") }

    /// out[n, width] = table[ids[n], width].
    public static func embeddingForward(
        out: UnsafeMutablePointer<Float>, table: UnsafePointer<Float>, ids: [Int], width: Int
    ) { fatalError("TrainOps.embeddingForward: not implemented yet") }

    /// dTable[ids[n]] += dOut[n] (repeated ids accumulate).
    public static func embeddingBackward(
        dTable: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, ids: [Int], width: Int
    ) { fatalError("TrainOps.embeddingBackward: not implemented yet") }

    /// x[B, T, W] += position[T, W] (in place; its backward is `positionAddBackward`).
    public static func positionAddForward(
        x: UnsafeMutablePointer<Float>, position: UnsafePointer<Float>, batch: Int, tokens: Int, width: Int
    ) { fatalError("TrainOps.positionAddForward: not implemented yet") }

    /// dPosition[T, W] += Σ_b dx[b, T, W].
    public static func positionAddBackward(
        dPosition: UnsafeMutablePointer<Float>, dx: UnsafePointer<Float>, batch: Int, tokens: Int, width: Int
    ) { fatalError("TrainOps.positionAddBackward: not implemented yet") }

    // MARK: L2 normalisation

    /// y = x / ||x|| per row; writes norm[rows] (torch's F.normalize with eps 1e-12 is not used:
    /// CLIP divides by the norm itself).
    public static func l2NormalizeForward(
        y: UnsafeMutablePointer<Float>, norm: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows: Int, dim: Int
    ) { fatalError("TrainOps.l2NormalizeForward: not implemented yet") }

    /// dx += (dy - y (y·dy)) / norm, per row.
    public static func l2NormalizeBackward(
        dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, y: UnsafePointer<Float>, norm: UnsafePointer<Float>,
        rows: Int, dim: Int
    ) { fatalError("TrainOps.l2NormalizeBackward: not implemented yet") }

    // MARK: Contrastive loss (CLIP's symmetric InfoNCE)

    /// logits[i, j] = exp(logScale) · image[i] · text[j] over B normalised pairs [B, D];
    /// loss = (CE(rows of logits, targets) + CE(columns of logits, targets^T)) / 2, mean over B.
    /// `targets`: nil = the identity (hard InfoNCE, as CLIP and transformers' `clip_loss`);
    /// otherwise a [B, B] row-stochastic matrix (soft targets; row i sums to 1) used for both
    /// directions (rows for image->text, its transpose's rows for text->image, each renormalised).
    /// Accumulates dImage[B, D], dText[B, D] and dLogScale[1]; returns the loss.
    public static func contrastiveLoss(
        image: UnsafePointer<Float>, text: UnsafePointer<Float>, logScale: Float, targets: [Float]?,
        batch: Int, dim: Int,
        dImage: UnsafeMutablePointer<Float>?, dText: UnsafeMutablePointer<Float>?, dLogScale: UnsafeMutablePointer<Float>?
    ) -> Float { fatalError("TrainOps.contrastiveLoss: not implemented yet") }

    // MARK: Optimiser kernels

    /// One AdamW step (Loshchilov & Hutter; torch.optim.AdamW): for each i,
    ///   m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;
    ///   p -= lr · weightDecay · p;  p -= lr · (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + eps).
    /// `step` t starts at 1. Applies to `count` contiguous values (one call per parameter group).
    public static func adamWStep(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
        learningRate: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float, step: Int
    ) { fatalError("TrainOps.adamWStep: not implemented yet") }

    /// Σ g² over `count` values, accumulated in Double (for global-norm clipping).
    public static func sumOfSquares(_ g: UnsafePointer<Float>, count: Int) -> Double {
        fatalError("TrainOps.sumOfSquares: not implemented yet")
    }

    /// g *= factor.
    public static func scale(_ g: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        fatalError("TrainOps.scale: not implemented yet")
    }
}
