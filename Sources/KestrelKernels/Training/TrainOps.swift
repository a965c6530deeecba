// Forward and backward passes for training, in llm.c's shape: `<op>Forward` writes its output
// (never over its input) and what `<op>Backward` needs; `<op>Backward` ACCUMULATES (`+=`) into
// every gradient it is given (callers zero gradients once per step). Row-major, PyTorch layouts:
// a linear weight is [out, in]; activations are [rows, channels]; images [B, 3, H, W].
// A nil gradient pointer means "not needed" (a frozen tensor, or an input such as pixels).
//
// Every op here has a naive twin in `NaiveTrainOps` (Double accumulation, plain loops) that the
// tests compare against, and a finite-difference check on odd shapes.
//
// The ops live in one file per concept, as extensions: LinearOps, LayerNormOps, ActivationOps,
// SoftmaxOps, AttentionOps, EmbeddingOps, L2NormOps, ContrastiveLossOps, OptimizerOps, ElementwiseOps
// (add, accumulate); TrainParallel holds the shared sgemm wrapper (transA/transB, beta) and row loops.
// Threads: row loops and per-(batch, head) attention use up to `Kernels.threads`; products run on
// OpenBLAS (threaded by `Kernels.threads`, or single-threaded inside our own parallel regions).

/// Training kernels (forward keeps what backward needs; backward accumulates).
public enum TrainOps {}
