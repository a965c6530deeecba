// CDNNL: Kestrel's only door to oneDNN (Debian: libdnnl-dev 2.6, OpenMP runtime).
//
// Linear layers y[M,N] = act(x[M,K] W^T + bias) (+ y) on oneDNN's matmul primitive, with the
// weight W[N,K] (row-major fp32, PyTorch layout) reordered once ("packed") into the layout oneDNN
// prefers, in fp32, bf16 or int8 (s8, symmetric per output channel). Every function returns 0 on
// success and a negative CDNNL_* code on failure, with a message in cdnnl_last_error() (per
// thread); nothing here aborts. Primitives are created once per (M, K, N, precision, epilogue,
// threads) and kept in a process-wide cache (least recently used evicted past 256 entries); any
// number of threads may call cdnnl_linear at once.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define CDNNL_OK 0
#define CDNNL_ERR_ONEDNN (-1)      // oneDNN refused (unsupported shape, layout, ISA...)
#define CDNNL_ERR_MEMORY (-2)      // allocation failed
#define CDNNL_ERR_ARGUMENT (-3)    // bad argument (negative size, unknown precision...)

// Precisions (Kestrel's Precision).
#define CDNNL_F32 0
#define CDNNL_BF16 1
#define CDNNL_INT8 2

// How int8 products quantise their activations per call (chosen when packing).
#define CDNNL_INT8_U8_ZP 0   // u8 with a zero point: scale = (max - min) / 255 (asymmetric)
#define CDNNL_INT8_S8 1      // s8 symmetric: scale = max|x| / 127
// OR'd into int8_mode: the first int8 formulation (runtime per-column output scales, bias divided
// by them per call), which oneDNN 2.6 runs on its older gemm:jit with plain [K, N] weights. The
// default applies scales and bias as runtime binary post-ops, which oneDNN runs on brgemm (VNNI)
// with its blocked weight layout. Kept for benchmarks and tests.
#define CDNNL_INT8_OUTPUT_SCALES 2

// Epilogues applied after bias.
#define CDNNL_ACT_NONE 0
#define CDNNL_ACT_GELU_ERF 1
#define CDNNL_ACT_GELU_TANH 2
#define CDNNL_ACT_QUICK_GELU 3   // x sigmoid(1.702 x): oneDNN's swish with alpha 1.702

/// Message of the last failure on this thread ("" if none).
const char *cdnnl_last_error(void);

/// 1 if a CPU engine can be created (oneDNN loaded and working), else 0.
int cdnnl_available(void);
/// oneDNN's effective ISA (dnnl_cpu_isa_t value; 0 if unknown).
unsigned cdnnl_effective_isa(void);
/// The processor has AVX512-BF16 (and oneDNN will use it): 1 or 0.
int cdnnl_cpu_has_avx512_bf16(void);
/// The processor has AVX512-VNNI or AVX-VNNI (and oneDNN will use it): 1 or 0.
int cdnnl_cpu_has_vnni(void);

typedef struct cdnnl_weight cdnnl_weight;

/// Packs w[n, k] (row-major fp32) for `precision` (CDNNL_F32/BF16/INT8); `int8_mode` is
/// CDNNL_INT8_U8_ZP or CDNNL_INT8_S8 (ignored otherwise). On success *out owns the packed data.
int cdnnl_pack(const float *w, int64_t n, int64_t k, int precision, int int8_mode, cdnnl_weight **out);
void cdnnl_weight_free(cdnnl_weight *w);
/// Bytes held by the packed weight (data plus scales).
int64_t cdnnl_weight_bytes(const cdnnl_weight *w);
/// The layout oneDNN chose, for messages and benchmarks (e.g. "BA16a64b4a").
const char *cdnnl_weight_layout(const cdnnl_weight *w);

/// y[m, n] = act(x[m, k] W^T + bias) (+ y[m, n] when `accumulate`, then act must be NONE), on
/// at most `threads` OpenMP threads (set for the calling thread only, restored afterwards).
/// `bias` is [n] or NULL. x and y are row-major, leading dimensions k and n, not overlapping.
int cdnnl_linear(const cdnnl_weight *w, const float *x, int64_t m, const float *bias, int act,
                 int accumulate, float *y, int threads);

/// The packed weight back as fp32 w[n, k] (int8: dequantised with its scales). For fallbacks.
int cdnnl_unpack(const cdnnl_weight *w, float *out);

/// Per-row symmetric int8 quantisation (the weights' per-output-channel scheme):
/// scales[r] = max_j |w[r, j]| / 127 (1 for an all-zero row), q = round_half_even(w / scale)
/// clamped to [-127, 127].
void cdnnl_quantize_rows_s8(const float *w, int64_t rows, int64_t cols, int8_t *q, float *scales);
/// Per-tensor asymmetric u8 quantisation of x[count] (the activations' scheme):
/// lo = min(0, min x), hi = max(0, max x), scale = (hi - lo) / 255 (1 when hi == lo),
/// zero_point = round(-lo / scale) in [0, 255], q = clamp(round_half_even(x / scale) + zp, 0, 255).
void cdnnl_quantize_u8(const float *x, int64_t count, uint8_t *q, float *scale, int32_t *zero_point);
/// Per-tensor symmetric s8 quantisation: scale = max|x| / 127 (1 if all zero), q in [-127, 127].
void cdnnl_quantize_s8(const float *x, int64_t count, int8_t *q, float *scale);
/// Number of primitives in the cache, and nanoseconds spent creating them so far.
int64_t cdnnl_cache_entries(void);
int64_t cdnnl_cache_create_ns(void);
/// Primitives evicted from the cache so far (least recently used first).
int64_t cdnnl_cache_evictions(void);
/// Bounds the cache to `limit` primitives (>= 1; default 256); evicts down to it at once.
/// A primitive evicted while another thread runs it is destroyed when that call ends.
void cdnnl_cache_set_limit(int64_t limit);
/// The oneDNN implementation a product of m rows on `w` runs on (e.g. "brg:avx512_core_vnni",
/// "gemm:jit"), as DNNL_VERBOSE names it; "" on failure. Bias, activation and accumulate as in
/// cdnnl_linear. The pointer stays valid until the next call on this thread.
const char *cdnnl_implementation(const cdnnl_weight *w, int64_t m, int has_bias, int act, int accumulate, int threads);

/// Runs body(ctx, begin, end) over `threads` contiguous, disjoint ranges covering [0, count)
/// (fewer when count is smaller), on the same OpenMP thread pool oneDNN's products use, from
/// the calling thread (which does one range itself). For element-wise row loops between
/// products: their workers are the ones oneDNN's products leave spinning (libgomp's
/// OMP_WAIT_POLICY / GOMP_SPINCOUNT), so they do the work instead of competing with Dispatch
/// threads for the cores. body must be safe to run concurrently on disjoint ranges.
void cdnnl_parallel_for(int64_t count, int threads, void (*body)(void *ctx, int64_t begin, int64_t end), void *ctx);

/// libgomp reads OMP_WAIT_POLICY / GOMP_SPINCOUNT once, when it loads (before main), so a process
/// cannot change its own wait policy later. When neither is set (and KESTREL_OMP_REEXEC is not
/// "0"), sets OMP_WAIT_POLICY=passive and KESTREL_OMP_REEXEC=0 and replaces the process with
/// itself (execv of /proc/self/exe with `argv`); returns 0 without doing anything otherwise, or
/// -1 if the exec failed (the process then simply goes on with libgomp's default). Call first
/// thing in main, before any thread starts.
int cdnnl_reexec_with_passive_wait(char *const *argv);
