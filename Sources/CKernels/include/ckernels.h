// CKernels: Kestrel's element-wise and row-wise float kernels in C (LayerNorm, the GELU family,
// softmax, L2 normalisation, multi-head attention), each in three builds: AVX-512
// (avx512f/bw/vl/dq), AVX2+FMA and portable C. The package builds for baseline x86-64; the SIMD
// builds are compiled per function (__attribute__((target(...)))) and run only after a runtime
// check (__builtin_cpu_supports), made once. No library to link.
//
// Every function works on row-major float arrays over a range of rows (or tasks), so the caller
// can split the rows over threads. Twins: KestrelKernels' NaiveKernels (tests compare against them).
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction-set levels, lowest first.
enum { CK_LEVEL_PORTABLE = 0, CK_LEVEL_AVX2 = 1, CK_LEVEL_AVX512 = 2 };

/// The best level this processor (and OS) supports: AVX-512 needs avx512f, bw, vl and dq;
/// AVX2 needs avx2 and fma.
int ck_best_level(void);

/// The level the kernels run at (the best one unless forced).
int ck_level(void);

/// Forces a level (tests, benchmarks); -1 returns to the best one. Returns 0, or -1 (and changes
/// nothing) when the processor lacks that level. Process-wide: not for use while kernels run.
int ck_set_level(int level);

/// y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * w + b for r in [row_begin, row_end); x, y [rows, c];
/// biased variance, two passes (PyTorch nn.LayerNorm). x == y allowed.
void ck_layernorm_rows(const float *x, float *y, long row_begin, long row_end, long c,
                       const float *w, const float *b, float eps);

/// In place over x[0..<n]: exact GELU 0.5 x (1 + erf(x / sqrt 2)) (erf: Abramowitz & Stegun 7.1.26,
/// |error| < 1.5e-7).
void ck_gelu(float *x, long n);
/// In place: tanh GELU, as x sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)).
void ck_gelu_tanh(float *x, long n);
/// In place: x sigmoid(1.702 x) (OpenAI CLIP's QuickGELU).
void ck_quick_gelu(float *x, long n);

/// Softmax of rows [row_begin, row_end) of x [rows, c] in place; -inf entries give 0, an all -inf
/// row gives zeros.
void ck_softmax_rows(float *x, long row_begin, long row_end, long c);

/// Divides rows [row_begin, row_end) of x [rows, c] by their L2 norm clamped at 1e-12 (F.normalize).
void ck_l2_normalize_rows(float *x, long row_begin, long row_end, long c);

/// x[i] += y[i] for i < n.
void ck_add(float *x, const float *y, long n);

/// Scaled dot-product attention for tasks [task_begin, task_end), task = b * heads + h.
/// Row r of query token i of batch b is q + (b * t + i) * ldq, of key/value token j is
/// k/v + (b * s + j) * ldkv, of the output out + (b * t + i) * ldo; head h reads and writes
/// columns [h d, (h+1) d). scores = q k^T / sqrt(d); key j is masked for query i when
/// (causal && j > i) or j >= valid[b] (valid may be NULL: all s keys); softmax; times v.
/// A query with every key masked comes out as zeros. Returns -1 if scratch memory could not be
/// allocated (nothing written), else 0.
int ck_attention(const float *q, const float *k, const float *v, float *out, long ldq, long ldkv, long ldo,
                 long t, long s, long heads, long d, int causal, const long *valid,
                 long task_begin, long task_end);

#ifdef __cplusplus
}
#endif
