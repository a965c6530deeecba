// CDNNL: linear layers on oneDNN 2.6's matmul primitive (see include/cdnnl.h).
//
// Shapes: oneDNN's matmul computes dst[M,N] = src[M,K] wei[K,N]. Kestrel's weight is W[N,K]
// row-major, which is wei[K,N] with strides (1, K): format tag "ba". Packing reorders it into the
// layout the matmul asks for (format "any" at M = PACK_M rows); every later product, whatever M,
// is created against that same layout.
//
// Threads: oneDNN here runs on OpenMP. A call sets omp_set_num_threads for the calling thread only
// (an OpenMP ICV is per thread) and restores it, so no other caller sees a change. Primitives are
// cached per thread count, since oneDNN fixes its work split when a primitive is created.
//
// Scratchpad: user-managed, one growing buffer per calling thread, so concurrent calls never share.
#include "cdnnl.h"

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern int omp_get_max_threads(void);
extern void omp_set_num_threads(int);
extern int omp_get_thread_num(void);
extern int omp_get_num_threads(void);

// M at which the weight layout is chosen: the big-batch case (ViT-B/32 batch 32 = 1600 rows).
#define PACK_M 1024

// ---------------------------------------------------------------------------------------------
// Errors

static __thread char t_error[512];

const char *cdnnl_last_error(void) { return t_error; }

static int fail(int code, const char *what, dnnl_status_t s) {
    if (s != dnnl_success)
        snprintf(t_error, sizeof t_error, "oneDNN: %s failed: %s", what, dnnl_status2str(s));
    else
        snprintf(t_error, sizeof t_error, "%s", what);
    return code;
}

#define TRY(call)                                                                                  \
    do {                                                                                           \
        dnnl_status_t s_ = (call);                                                                 \
        if (s_ != dnnl_success) { rc = fail(CDNNL_ERR_ONEDNN, #call, s_); goto done; }            \
    } while (0)

// ---------------------------------------------------------------------------------------------
// Engine and capabilities

static dnnl_engine_t g_engine;
static dnnl_status_t g_engine_status = dnnl_runtime_error;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_engine(void) { g_engine_status = dnnl_engine_create(&g_engine, dnnl_cpu, 0); }

static int engine_ready(void) {
    pthread_once(&g_once, init_engine);
    if (g_engine_status != dnnl_success) return fail(CDNNL_ERR_ONEDNN, "dnnl_engine_create", g_engine_status);
    return CDNNL_OK;
}

int cdnnl_available(void) { return engine_ready() == CDNNL_OK; }

unsigned cdnnl_effective_isa(void) { return (unsigned)dnnl_get_effective_cpu_isa(); }

int cdnnl_cpu_has_avx512_bf16(void) {
    __builtin_cpu_init();
    unsigned isa = cdnnl_effective_isa();
    return __builtin_cpu_supports("avx512bf16") && (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

int cdnnl_cpu_has_vnni(void) {
    __builtin_cpu_init();
    unsigned isa = cdnnl_effective_isa();
    int avx512 = __builtin_cpu_supports("avx512vnni") && (isa & dnnl_cpu_isa_avx512_core_vnni) == dnnl_cpu_isa_avx512_core_vnni;
    int avx2 = __builtin_cpu_supports("avxvnni") && (isa & dnnl_cpu_isa_avx2_vnni) == dnnl_cpu_isa_avx2_vnni;
    return avx512 || avx2;
}

// ---------------------------------------------------------------------------------------------
// Thread counts above this are taken as this many (a team of 100,000 crashed inside libgomp).
#define CDNNL_MAX_THREADS 1024

// Element-wise helpers (compiled for AVX-512, AVX2 and baseline; picked at load by ifunc).

#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

// min/max and absmax see every activation, so they also report a damaged one: a NaN makes both
// results NaN, an infinity shows as itself. Callers then make the product's output NaN, as fp32
// would, so the towers' finiteness check refuses it instead of a finite answer of the other values.
CLONES static void minmax_scalar(const float *x, int64_t n, float *lo_out, float *hi_out) {
    float lo = 0, hi = 0;   // the range always holds 0, so 0 is exactly representable
    int nan = 0;
    for (int64_t i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
        nan |= x[i] != x[i];
    }
    *lo_out = nan ? NAN : lo;
    *hi_out = nan ? NAN : hi;
}

CLONES static float absmax(const float *x, int64_t n) {
    float m = 0;
    int nan = 0;
    for (int64_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        m = a > m ? a : m;
        nan |= a != a;
    }
    return nan ? NAN : m;
}

CLONES static void quantize_u8_with_scalar(const float *x, int64_t n, float inv, float zp, uint8_t *q) {
    for (int64_t i = 0; i < n; i++) {
        float v = __builtin_rintf(x[i] * inv) + zp;
        v = v < 0 ? 0 : (v > 255 ? 255 : v);
        q[i] = (uint8_t)(int32_t)v;
    }
}

// AVX-512 versions of the two passes of dynamic u8 quantisation (the default int8 mode): the
// compiler does not vectorise the scalar loops (their NaN-preserving comparisons), and these two
// passes over every activation cost about a tenth of an int8 forward. Same results as the scalar
// twins above (tested through cdnnl_quantize_u8 against the naive twin): min/max ignore NaN the
// same way, rounding is rint's (nearest even), and the clamp happens in float before conversion.
__attribute__((target("avx512f"))) static void minmax_avx512(const float *x, int64_t n, float *lo_out, float *hi_out) {
    __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
    __mmask16 nan = 0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        lo = _mm512_min_ps(v, lo);   // NaN in v: keeps lo, as the scalar comparison does
        hi = _mm512_max_ps(v, hi);
        nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    }
    float l = _mm512_reduce_min_ps(lo), h = _mm512_reduce_max_ps(hi);
    int tail_nan = 0;
    for (; i < n; i++) {
        l = x[i] < l ? x[i] : l;
        h = x[i] > h ? x[i] : h;
        tail_nan |= x[i] != x[i];
    }
    *lo_out = nan || tail_nan ? NAN : l;
    *hi_out = nan || tail_nan ? NAN : h;
}

__attribute__((target("avx512f"))) static void quantize_u8_with_avx512(const float *x, int64_t n, float inv, float zp, uint8_t *q) {
    const __m512 vinv = _mm512_set1_ps(inv), vzp = _mm512_set1_ps(zp);
    const __m512 zero = _mm512_setzero_ps(), top = _mm512_set1_ps(255.0f);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), vinv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm512_add_ps(v, vzp);
        v = _mm512_min_ps(_mm512_max_ps(v, zero), top);   // NaN -> 0, as (uint8_t)(int32_t)NaN is here
        _mm_storeu_si128((__m128i *)(q + i), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
    }
    quantize_u8_with_scalar(x + i, n - i, inv, zp, q + i);
}

static int has_avx512f(void) {
    static int known = -1;
    if (known < 0) { __builtin_cpu_init(); known = __builtin_cpu_supports("avx512f") ? 1 : 0; }
    return known;
}

static void minmax(const float *x, int64_t n, float *lo_out, float *hi_out) {
    if (has_avx512f()) minmax_avx512(x, n, lo_out, hi_out); else minmax_scalar(x, n, lo_out, hi_out);
}

static void quantize_u8_with(const float *x, int64_t n, float inv, float zp, uint8_t *q) {
    if (has_avx512f()) quantize_u8_with_avx512(x, n, inv, zp, q); else quantize_u8_with_scalar(x, n, inv, zp, q);
}

CLONES static void quantize_s8_with(const float *x, int64_t n, float inv, int8_t *q) {
    for (int64_t i = 0; i < n; i++) {
        float v = __builtin_rintf(x[i] * inv);
        v = v < -127 ? -127 : (v > 127 ? 127 : v);
        q[i] = (int8_t)(int32_t)v;
    }
}

// fp32 -> bf16, round to nearest even (NaN stays NaN: its quiet bit is set first).
CLONES static void to_bf16(const float *x, int64_t n, uint16_t *out) {
    const uint32_t *u = (const uint32_t *)x;
    for (int64_t i = 0; i < n; i++) {
        uint32_t v = u[i];
        uint32_t nan = (v & 0x7fffffffu) > 0x7f800000u;
        uint32_t r = nan ? (v | 0x00400000u) : v + 0x7fffu + ((v >> 16) & 1u);
        out[i] = (uint16_t)(r >> 16);
    }
}

// Division, not multiplication by a reciprocal: the naive twins divide, and x/s vs x*(1/s) can
// round to different integers at the .5 boundaries.
void cdnnl_quantize_rows_s8(const float *w, int64_t rows, int64_t cols, int8_t *q, float *scales) {
    for (int64_t r = 0; r < rows; r++) {
        const float *row = w + r * cols;
        float m = absmax(row, cols);
        float s = m > 0 ? m / 127.0f : 1.0f;
        scales[r] = s;
        for (int64_t j = 0; j < cols; j++) {
            float v = __builtin_rintf(row[j] / s);
            v = v < -127 ? -127 : (v > 127 ? 127 : v);
            q[r * cols + j] = (int8_t)(int32_t)v;
        }
    }
}

// Scale and zero point of u8 quantisation over the range [lo, hi] (which holds 0). A non-finite
// range (a damaged activation) gives a NaN scale: the product comes out NaN.
static void u8_from_range(float lo, float hi, float *scale, int32_t *zero_point) {
    if (!isfinite(lo) || !isfinite(hi)) {
        *scale = NAN;
        *zero_point = 0;
        return;
    }
    float s = hi > lo ? (hi - lo) / 255.0f : 1.0f;
    float zp = __builtin_rintf(-lo / s);
    zp = zp < 0 ? 0 : (zp > 255 ? 255 : zp);
    *scale = s;
    *zero_point = (int32_t)zp;
}

static void u8_params(const float *x, int64_t count, float *scale, int32_t *zero_point) {
    float lo, hi;
    minmax(x, count, &lo, &hi);
    u8_from_range(lo, hi, scale, zero_point);
}

void cdnnl_quantize_u8(const float *x, int64_t count, uint8_t *q, float *scale, int32_t *zero_point) {
    u8_params(x, count, scale, zero_point);
    quantize_u8_with(x, count, 1.0f / *scale, (float)*zero_point, q);
}

void cdnnl_quantize_s8(const float *x, int64_t count, int8_t *q, float *scale) {
    float m = absmax(x, count);
    *scale = !isfinite(m) ? NAN : m > 0 ? m / 127.0f : 1.0f;
    quantize_s8_with(x, count, 1.0f / *scale, q);
}

// ---------------------------------------------------------------------------------------------
// Per-thread state: a stream and growing buffers (scratchpad, converted activations, scales).

enum { BUF_SCRATCH, BUF_SRC, BUF_SCALES, BUF_BIAS, BUF_COUNT };

typedef struct {
    dnnl_stream_t stream;
    void *buf[BUF_COUNT];
    size_t cap[BUF_COUNT];
} thread_state;

static pthread_key_t g_tls_key;
static pthread_once_t g_tls_once = PTHREAD_ONCE_INIT;

static void free_thread_state(void *p) {
    thread_state *t = p;
    if (!t) return;
    if (t->stream) dnnl_stream_destroy(t->stream);
    for (int i = 0; i < BUF_COUNT; i++) free(t->buf[i]);
    free(t);
}

static void init_tls(void) { pthread_key_create(&g_tls_key, free_thread_state); }

static thread_state *thread_state_get(void) {
    pthread_once(&g_tls_once, init_tls);
    thread_state *t = pthread_getspecific(g_tls_key);
    if (t) return t;
    t = calloc(1, sizeof *t);
    if (!t) return NULL;
    if (dnnl_stream_create(&t->stream, g_engine, dnnl_stream_default_flags) != dnnl_success) {
        free(t);
        return NULL;
    }
    pthread_setspecific(g_tls_key, t);
    return t;
}

static void *buffer(thread_state *t, int which, size_t bytes) {
    if (bytes == 0) bytes = 64;
    if (t->cap[which] >= bytes) return t->buf[which];
    size_t cap = (bytes + 4095) & ~(size_t)4095;
    void *p = aligned_alloc(64, cap);
    if (!p) return NULL;
    free(t->buf[which]);
    t->buf[which] = p;
    t->cap[which] = cap;
    return p;
}

// ---------------------------------------------------------------------------------------------
// Packed weights

struct cdnnl_weight {
    int precision, int8_mode;
    int64_t n, k;
    dnnl_memory_desc_t md;   // the packed layout, wei[K, N]
    void *data;
    size_t data_bytes;
    float *scales;           // int8: per output channel [n]
    char layout[64];
};

// int8 formulations (see cdnnl.h): the activation kind is the low bit of int8_mode.
static int is_s8(int int8_mode) { return (int8_mode & 1) == CDNNL_INT8_S8; }
static int int8_legacy(int int8_mode) { return (int8_mode & CDNNL_INT8_OUTPUT_SCALES) != 0; }
// The int8 epilogue runs on post-ops (no output scales, no matmul bias): oneDNN 2.6's brgemm
// matmul refuses runtime output scales, but takes runtime binary post-op operands.
static int int8_postops(int precision, int int8_mode) { return precision == CDNNL_INT8 && !int8_legacy(int8_mode); }

static dnnl_data_type_t src_type(int precision, int int8_mode) {
    switch (precision) {
    case CDNNL_BF16: return dnnl_bf16;
    case CDNNL_INT8: return is_s8(int8_mode) ? dnnl_s8 : dnnl_u8;
    default: return dnnl_f32;
    }
}

static dnnl_data_type_t wei_type(int precision) {
    switch (precision) {
    case CDNNL_BF16: return dnnl_bf16;
    case CDNNL_INT8: return dnnl_s8;
    default: return dnnl_f32;
    }
}

// Attributes for a product: user scratchpad, int8 scales / zero point, post-ops.
//
// int8, default formulation: dst = act(acc_s32 * scales[1, N] + bias[1, N]) (+ dst) as post-ops
// [binary mul (runtime [1, N]: activation scale x weight scales), binary add (runtime [1, N] bias,
// when there is one), then eltwise or sum]; u8 activations add a runtime source zero point.
// int8 with CDNNL_INT8_OUTPUT_SCALES (the first formulation, kept for comparison): runtime
// per-column output scales and the matmul bias; oneDNN 2.6 runs it on its older gemm:jit.
static dnnl_status_t make_attr(dnnl_primitive_attr_t *attr, int64_t n, int precision, int int8_mode, int has_bias, int act,
                               int accumulate) {
    const float runtime_f32[1] = {DNNL_RUNTIME_F32_VAL};
    const int32_t runtime_s32[1] = {DNNL_RUNTIME_S32_VAL};
    dnnl_status_t s = dnnl_primitive_attr_create(attr);
    if (s != dnnl_success) return s;
    if ((s = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user)) != dnnl_success) return s;
    if (precision == CDNNL_INT8) {
        // Per output column (dim 1 of dst[M, N]), given at execution.
        if (int8_legacy(int8_mode) && (s = dnnl_primitive_attr_set_output_scales(*attr, 1, 1 << 1, runtime_f32)) != dnnl_success)
            return s;
        if (!is_s8(int8_mode) &&
            (s = dnnl_primitive_attr_set_zero_points(*attr, DNNL_ARG_SRC, 1, 0, runtime_s32)) != dnnl_success)
            return s;
    }
    int postops = int8_postops(precision, int8_mode);
    if (act != CDNNL_ACT_NONE || accumulate || postops) {
        dnnl_post_ops_t po;
        if ((s = dnnl_post_ops_create(&po)) != dnnl_success) return s;
        if (postops) {
            dnnl_memory_desc_t row;
            dnnl_dims_t rd = {1, n};
            s = dnnl_memory_desc_init_by_tag(&row, 2, rd, dnnl_f32, dnnl_ab);
            if (s == dnnl_success) s = dnnl_post_ops_append_binary(po, dnnl_binary_mul, &row);
            if (s == dnnl_success && has_bias) s = dnnl_post_ops_append_binary(po, dnnl_binary_add, &row);
        }
        if (s == dnnl_success && accumulate) s = dnnl_post_ops_append_sum(po, 1.0f);
        if (s == dnnl_success && act == CDNNL_ACT_GELU_ERF) s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_erf, 0, 0);
        if (s == dnnl_success && act == CDNNL_ACT_GELU_TANH) s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_tanh, 0, 0);
        if (s == dnnl_success && act == CDNNL_ACT_QUICK_GELU) s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_swish, 1.702f, 0);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(*attr, po);
        dnnl_post_ops_destroy(po);
    }
    return s;
}

// A matmul primitive descriptor for m rows against weights `wmd` (NULL: format any).
static dnnl_status_t make_pd(dnnl_primitive_desc_t *pd, int64_t m, int64_t k, int64_t n, int precision,
                             int int8_mode, const dnnl_memory_desc_t *wmd, int has_bias, int act, int accumulate) {
    dnnl_memory_desc_t src, wei, bias, dst;
    dnnl_dims_t sd = {m, k}, wd = {k, n}, bd = {1, n}, dd = {m, n};
    dnnl_status_t s;
    if ((s = dnnl_memory_desc_init_by_tag(&src, 2, sd, src_type(precision, int8_mode), dnnl_ab)) != dnnl_success) return s;
    if (wmd) wei = *wmd;
    else if ((s = dnnl_memory_desc_init_by_tag(&wei, 2, wd, wei_type(precision), dnnl_format_tag_any)) != dnnl_success) return s;
    if ((s = dnnl_memory_desc_init_by_tag(&bias, 2, bd, dnnl_f32, dnnl_ab)) != dnnl_success) return s;
    if ((s = dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab)) != dnnl_success) return s;
    dnnl_matmul_desc_t desc;
    int matmul_bias = has_bias && !int8_postops(precision, int8_mode);
    if ((s = dnnl_matmul_desc_init(&desc, &src, &wei, matmul_bias ? &bias : NULL, &dst)) != dnnl_success) return s;
    dnnl_primitive_attr_t attr = NULL;
    s = make_attr(&attr, n, precision, int8_mode, has_bias, act, accumulate);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(pd, &desc, attr, g_engine, NULL);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return s;
}

// One reorder from src memory to dst memory (both described), on this thread's stream.
static int reorder(thread_state *t, const dnnl_memory_desc_t *smd, void *sdata, const dnnl_memory_desc_t *dmd, void *ddata) {
    int rc = CDNNL_OK;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t sm = NULL, dm = NULL;
    TRY(dnnl_reorder_primitive_desc_create(&pd, smd, g_engine, dmd, g_engine, NULL));
    TRY(dnnl_primitive_create(&prim, pd));
    TRY(dnnl_memory_create(&sm, smd, g_engine, sdata));
    TRY(dnnl_memory_create(&dm, dmd, g_engine, ddata));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, sm}, {DNNL_ARG_TO, dm}};
    TRY(dnnl_primitive_execute(prim, t->stream, 2, args));
    TRY(dnnl_stream_wait(t->stream));
done:
    if (sm) dnnl_memory_destroy(sm);
    if (dm) dnnl_memory_destroy(dm);
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return rc;
}

static void describe_layout(const dnnl_memory_desc_t *md, char *out, size_t size) {
    if (md->format_kind != dnnl_blocked) { snprintf(out, size, "%s", dnnl_fmt_kind2str(md->format_kind)); return; }
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    int pos = 0;
    pos += snprintf(out + pos, size - pos, "strides %lld,%lld", (long long)b->strides[0], (long long)b->strides[1]);
    for (int i = 0; i < b->inner_nblks && pos < (int)size; i++)
        pos += snprintf(out + pos, size - pos, " %lld%c", (long long)b->inner_blks[i], (char)('a' + b->inner_idxs[i]));
    if (md->extra.flags && pos < (int)size) snprintf(out + pos, size - pos, " extra %llx", (unsigned long long)md->extra.flags);
}

int cdnnl_pack(const float *w, int64_t n, int64_t k, int precision, int int8_mode, cdnnl_weight **out) {
    *out = NULL;
    if (n <= 0 || k <= 0 || precision < CDNNL_F32 || precision > CDNNL_INT8)
        return fail(CDNNL_ERR_ARGUMENT, "cdnnl_pack: sizes must be positive and the precision known", dnnl_success);
    int rc = engine_ready();
    if (rc) return rc;
    thread_state *t = thread_state_get();
    if (!t) return fail(CDNNL_ERR_MEMORY, "cdnnl_pack: no stream for this thread", dnnl_success);
    dnnl_primitive_desc_t pd = NULL;
    int8_t *q = NULL;
    cdnnl_weight *pw = calloc(1, sizeof *pw);
    if (!pw) return fail(CDNNL_ERR_MEMORY, "cdnnl_pack: out of memory", dnnl_success);
    pw->precision = precision;
    pw->int8_mode = int8_mode;
    pw->n = n;
    pw->k = k;
    TRY(make_pd(&pd, PACK_M, k, n, precision, int8_mode, NULL, 1, CDNNL_ACT_NONE, 0));
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if (!wmd) { rc = fail(CDNNL_ERR_ONEDNN, "cdnnl_pack: no weights layout", dnnl_success); goto done; }
    pw->md = *wmd;
    describe_layout(wmd, pw->layout, sizeof pw->layout);
    pw->data_bytes = dnnl_memory_desc_get_size(wmd);
    pw->data = aligned_alloc(64, (pw->data_bytes + 63) & ~(size_t)63);
    if (!pw->data) { rc = fail(CDNNL_ERR_MEMORY, "cdnnl_pack: out of memory", dnnl_success); goto done; }
    dnnl_memory_desc_t plain;
    dnnl_dims_t wd = {k, n};
    if (precision == CDNNL_INT8) {
        pw->scales = malloc(sizeof(float) * n);
        q = malloc((size_t)(n * k));
        if (!pw->scales || !q) { rc = fail(CDNNL_ERR_MEMORY, "cdnnl_pack: out of memory", dnnl_success); goto done; }
        cdnnl_quantize_rows_s8(w, n, k, q, pw->scales);
        TRY(dnnl_memory_desc_init_by_tag(&plain, 2, wd, dnnl_s8, dnnl_ba));
        rc = reorder(t, &plain, q, &pw->md, pw->data);
    } else {
        // f32 -> f32 or bf16 (the reorder rounds to nearest even).
        TRY(dnnl_memory_desc_init_by_tag(&plain, 2, wd, dnnl_f32, dnnl_ba));
        rc = reorder(t, &plain, (void *)w, &pw->md, pw->data);
    }
done:
    free(q);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (rc) { cdnnl_weight_free(pw); return rc; }
    *out = pw;
    return CDNNL_OK;
}

void cdnnl_weight_free(cdnnl_weight *w) {
    if (!w) return;
    free(w->data);
    free(w->scales);
    free(w);
}

int64_t cdnnl_weight_bytes(const cdnnl_weight *w) {
    return (int64_t)w->data_bytes + (w->scales ? (int64_t)sizeof(float) * w->n : 0);
}

const char *cdnnl_weight_layout(const cdnnl_weight *w) { return w->layout; }

int cdnnl_unpack(const cdnnl_weight *w, float *out) {
    int rc = engine_ready();
    if (rc) return rc;
    thread_state *t = thread_state_get();
    if (!t) return fail(CDNNL_ERR_MEMORY, "cdnnl_unpack: no stream for this thread", dnnl_success);
    dnnl_memory_desc_t plain;
    dnnl_dims_t wd = {w->k, w->n};
    if (w->precision != CDNNL_INT8) {
        TRY(dnnl_memory_desc_init_by_tag(&plain, 2, wd, dnnl_f32, dnnl_ba));
        return reorder(t, &w->md, w->data, &plain, out);
    }
    int8_t *q = malloc((size_t)(w->n * w->k));
    if (!q) return fail(CDNNL_ERR_MEMORY, "cdnnl_unpack: out of memory", dnnl_success);
    TRY(dnnl_memory_desc_init_by_tag(&plain, 2, wd, dnnl_s8, dnnl_ba));
    rc = reorder(t, &w->md, w->data, &plain, q);
    if (rc == CDNNL_OK)
        for (int64_t r = 0; r < w->n; r++)
            for (int64_t j = 0; j < w->k; j++) out[r * w->k + j] = (float)q[r * w->k + j] * w->scales[r];
    free(q);
done:
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Primitive cache: (m, k, n, precision, int8 mode, bias, act, accumulate, threads) -> primitive,
// bounded (least recently used evicted first). An entry in use by a call is counted (refs); an
// evicted entry still in use is destroyed by the last call that releases it.

#define CACHE_BUCKETS 1024
#define CACHE_DEFAULT_LIMIT 256

typedef struct entry {
    int64_t m, k, n;
    int precision, int8_mode, has_bias, act, accumulate, threads;
    dnnl_primitive_t prim;
    size_t scratch_bytes;
    int refs, dead;
    struct entry *next;               // bucket chain
    struct entry *newer, *older;      // recency list
} entry;

static entry *g_buckets[CACHE_BUCKETS];
static entry *g_newest, *g_oldest;
static int64_t g_entries, g_create_ns, g_evictions, g_limit = CACHE_DEFAULT_LIMIT;
static pthread_mutex_t g_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned hash_key(const entry *e) {
    uint64_t h = 1469598103934665603ull;
    int64_t v[9] = {e->m, e->k, e->n, e->precision, e->int8_mode, e->has_bias, e->act, e->accumulate, e->threads};
    for (int i = 0; i < 9; i++) h = (h ^ (uint64_t)v[i]) * 1099511628211ull;
    return (unsigned)(h % CACHE_BUCKETS);
}

static int same_key(const entry *a, const entry *b) {
    return a->m == b->m && a->k == b->k && a->n == b->n && a->precision == b->precision && a->int8_mode == b->int8_mode &&
           a->has_bias == b->has_bias && a->act == b->act && a->accumulate == b->accumulate && a->threads == b->threads;
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t locked_read(const int64_t *v) {
    pthread_mutex_lock(&g_cache_lock);
    int64_t n = *v;
    pthread_mutex_unlock(&g_cache_lock);
    return n;
}

int64_t cdnnl_cache_entries(void) { return locked_read(&g_entries); }
int64_t cdnnl_cache_create_ns(void) { return locked_read(&g_create_ns); }
int64_t cdnnl_cache_evictions(void) { return locked_read(&g_evictions); }

static void entry_destroy(entry *e) {
    if (e->prim) dnnl_primitive_destroy(e->prim);
    free(e);
}

// Recency list (cache lock held).
static void lru_unlink(entry *e) {
    if (e->newer) e->newer->older = e->older; else g_newest = e->older;
    if (e->older) e->older->newer = e->newer; else g_oldest = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push_newest(entry *e) {
    e->older = g_newest;
    e->newer = NULL;
    if (g_newest) g_newest->newer = e; else g_oldest = e;
    g_newest = e;
}

// Evicts the oldest entries until at most `keep` remain (cache lock held). Entries in use are
// marked dead and destroyed on release; the others are returned through *graveyard (destroyed
// outside the lock).
static void evict_to(int64_t keep, entry **graveyard) {
    while (g_entries > keep && g_oldest) {
        entry *e = g_oldest;
        lru_unlink(e);
        entry **pp = &g_buckets[hash_key(e)];
        while (*pp != e) pp = &(*pp)->next;
        *pp = e->next;
        g_entries--;
        g_evictions++;
        if (e->refs > 0) e->dead = 1;
        else { e->next = *graveyard; *graveyard = e; }
    }
}

static void bury(entry *graveyard) {
    while (graveyard) {
        entry *next = graveyard->next;
        entry_destroy(graveyard);
        graveyard = next;
    }
}

void cdnnl_cache_set_limit(int64_t limit) {
    entry *graveyard = NULL;
    pthread_mutex_lock(&g_cache_lock);
    g_limit = limit < 1 ? 1 : limit;
    evict_to(g_limit, &graveyard);
    pthread_mutex_unlock(&g_cache_lock);
    bury(graveyard);
}

// Ends a call's use of an entry from lookup().
static void release(entry *e) {
    pthread_mutex_lock(&g_cache_lock);
    int destroy = --e->refs == 0 && e->dead;
    pthread_mutex_unlock(&g_cache_lock);
    if (destroy) entry_destroy(e);
}

// Finds or creates the primitive for `key` (on the calling thread, whose OpenMP thread count is
// already key->threads), counted as in use until release().
static int lookup(const entry *key, const cdnnl_weight *w, entry **found) {
    unsigned b = hash_key(key);
    pthread_mutex_lock(&g_cache_lock);
    for (entry *e = g_buckets[b]; e; e = e->next)
        if (same_key(e, key)) {
            e->refs++;
            lru_unlink(e);
            lru_push_newest(e);
            *found = e;
            pthread_mutex_unlock(&g_cache_lock);
            return CDNNL_OK;
        }
    pthread_mutex_unlock(&g_cache_lock);

    int rc = CDNNL_OK;
    int64_t start = now_ns();
    dnnl_primitive_desc_t pd = NULL;
    entry *e = calloc(1, sizeof *e);
    if (!e) return fail(CDNNL_ERR_MEMORY, "cdnnl_linear: out of memory", dnnl_success);
    *e = *key;
    e->next = e->newer = e->older = NULL;
    e->prim = NULL;
    TRY(make_pd(&pd, key->m, key->k, key->n, key->precision, key->int8_mode, &w->md, key->has_bias, key->act, key->accumulate));
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    e->scratch_bytes = smd ? dnnl_memory_desc_get_size(smd) : 0;
    TRY(dnnl_primitive_create(&e->prim, pd));
done:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (rc) { entry_destroy(e); return rc; }
    int64_t spent = now_ns() - start;

    entry *graveyard = NULL;
    pthread_mutex_lock(&g_cache_lock);
    g_create_ns += spent;
    for (entry *o = g_buckets[b]; o; o = o->next)
        if (same_key(o, key)) {   // another thread made it meanwhile
            o->refs++;
            pthread_mutex_unlock(&g_cache_lock);
            entry_destroy(e);
            *found = o;
            return CDNNL_OK;
        }
    evict_to(g_limit - 1, &graveyard);
    e->refs = 1;
    e->next = g_buckets[b];
    g_buckets[b] = e;
    lru_push_newest(e);
    g_entries++;
    pthread_mutex_unlock(&g_cache_lock);
    bury(graveyard);
    *found = e;
    return CDNNL_OK;
}

const char *cdnnl_implementation(const cdnnl_weight *w, int64_t m, int has_bias, int act, int accumulate, int threads) {
    static __thread char name[128];
    name[0] = 0;
    if (m <= 0 || threads < 1 || engine_ready()) return name;
    const int saved = omp_get_max_threads();
    if (saved != threads) omp_set_num_threads(threads);
    dnnl_primitive_desc_t pd = NULL;
    if (make_pd(&pd, m, w->k, w->n, w->precision, w->int8_mode, &w->md, has_bias, act, accumulate) == dnnl_success) {
        const char *impl = NULL;
        if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
            snprintf(name, sizeof name, "%s", impl);
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (saved != threads) omp_set_num_threads(saved);
    return name;
}

// ---------------------------------------------------------------------------------------------
// Products

// Converting the activations (bf16 rounding, int8 range and quantisation) on the call's threads,
// through cdnnl_parallel_for: each chunk is independent, and min / max are exact, so the result is
// the same as the single-threaded helpers' (which the tests compare with the naive twins).
#define PAR_MIN_ELEMENTS (1 << 16)
#define PAR_MAX_CHUNKS 64

typedef struct {
    const float *x;
    int64_t n;
    int chunks, kind;   // kind: 0 min/max, 1 absmax, 2 quantise u8, 3 quantise s8, 4 bf16
    float inv, zp;
    void *out;
    float lo[PAR_MAX_CHUNKS], hi[PAR_MAX_CHUNKS];
} convert_job;

static void convert_chunks(void *ctx, int64_t begin, int64_t end) {
    convert_job *j = ctx;
    for (int64_t c = begin; c < end; c++) {
        int64_t b = j->n * c / j->chunks, e = j->n * (c + 1) / j->chunks;
        switch (j->kind) {
        case 0: minmax(j->x + b, e - b, &j->lo[c], &j->hi[c]); break;
        case 1: j->hi[c] = absmax(j->x + b, e - b); break;
        case 2: quantize_u8_with(j->x + b, e - b, j->inv, j->zp, (uint8_t *)j->out + b); break;
        case 3: quantize_s8_with(j->x + b, e - b, j->inv, (int8_t *)j->out + b); break;
        default: to_bf16(j->x + b, e - b, (uint16_t *)j->out + b); break;
        }
    }
}

static void convert_run(convert_job *j, int kind) {
    j->kind = kind;
    cdnnl_parallel_for(j->chunks, j->chunks, convert_chunks, j);
}

// x[n] as this product's source: bf16, or int8 with its scale (and zero point for u8).
static void convert_source(const float *x, int64_t n, int precision, int int8_mode, int threads, void *out, float *scale,
                           int32_t *zero_point) {
    convert_job j = {.x = x, .n = n, .out = out};
    j.chunks = n < PAR_MIN_ELEMENTS || threads < 2 ? 1 : (threads < PAR_MAX_CHUNKS ? threads : PAR_MAX_CHUNKS);
    if (precision == CDNNL_BF16) { convert_run(&j, 4); return; }
    if (is_s8(int8_mode)) {
        convert_run(&j, 1);
        float m = 0;
        int damaged = 0;
        for (int c = 0; c < j.chunks; c++) {
            m = j.hi[c] > m ? j.hi[c] : m;
            damaged |= !isfinite(j.hi[c]);
        }
        if (damaged) { *scale = NAN; return; }   // a NaN or infinite activation: the output is NaN
        *scale = m > 0 ? m / 127.0f : 1.0f;
        j.inv = 1.0f / *scale;
        convert_run(&j, 3);
        return;
    }
    convert_run(&j, 0);
    float lo = 0, hi = 0;
    int damaged = 0;
    for (int c = 0; c < j.chunks; c++) {
        lo = j.lo[c] < lo ? j.lo[c] : lo;
        hi = j.hi[c] > hi ? j.hi[c] : hi;
        damaged |= !isfinite(j.lo[c]) || !isfinite(j.hi[c]);
    }
    u8_from_range(damaged ? NAN : lo, hi, scale, zero_point);
    if (damaged) return;   // NaN scale: the output is NaN, whatever the quantised values
    j.inv = 1.0f / *scale;
    j.zp = (float)*zero_point;
    convert_run(&j, 2);
}

int cdnnl_linear(const cdnnl_weight *w, const float *x, int64_t m, const float *bias, int act, int accumulate, float *y,
                 int threads) {
    if (m <= 0) return CDNNL_OK;
    if (threads < 1 || act < CDNNL_ACT_NONE || act > CDNNL_ACT_QUICK_GELU || (act != CDNNL_ACT_NONE && accumulate))
        return fail(CDNNL_ERR_ARGUMENT, "cdnnl_linear: bad threads, activation or accumulate", dnnl_success);
    int rc = engine_ready();
    if (rc) return rc;
    thread_state *t = thread_state_get();
    if (!t) return fail(CDNNL_ERR_MEMORY, "cdnnl_linear: no stream for this thread", dnnl_success);

    const int64_t n = w->n, k = w->k;
    if (threads > CDNNL_MAX_THREADS) threads = CDNNL_MAX_THREADS;   // libgomp crashes on absurd team sizes
    const int saved_threads = omp_get_max_threads();
    if (saved_threads != threads) omp_set_num_threads(threads);

    entry key = {.m = m, .k = k, .n = n, .precision = w->precision, .int8_mode = w->precision == CDNNL_INT8 ? w->int8_mode : 0,
                 .has_bias = bias != NULL, .act = act, .accumulate = accumulate != 0, .threads = threads};
    entry *e = NULL;
    dnnl_memory_t mem[7] = {0};
    int nargs = 0;
    dnnl_exec_arg_t args[7];
    rc = lookup(&key, w, &e);
    if (rc) goto done;

    // The source in the precision of the product.
    const void *src = x;
    float x_scale = 1;
    int32_t x_zp = 0;
    if (w->precision == CDNNL_BF16) {
        uint16_t *b = buffer(t, BUF_SRC, (size_t)(m * k) * 2);
        if (!b) { rc = fail(CDNNL_ERR_MEMORY, "cdnnl_linear: out of memory", dnnl_success); goto done; }
        convert_source(x, m * k, CDNNL_BF16, 0, threads, b, NULL, NULL);
        src = b;
    } else if (w->precision == CDNNL_INT8) {
        void *q = buffer(t, BUF_SRC, (size_t)(m * k));
        float *scales = buffer(t, BUF_SCALES, sizeof(float) * n);
        if (!q || !scales) { rc = fail(CDNNL_ERR_MEMORY, "cdnnl_linear: out of memory", dnnl_success); goto done; }
        convert_source(x, m * k, CDNNL_INT8, w->int8_mode, threads, q, &x_scale, &x_zp);
        for (int64_t j = 0; j < n; j++) scales[j] = x_scale * w->scales[j];
        src = q;
        if (bias && int8_legacy(w->int8_mode)) {
            // oneDNN 2.6 adds the bias before the output scales: dst = scale (acc + bias). The
            // bias is divided by this call's scales so that dst = scale acc + bias.
            float *b = buffer(t, BUF_BIAS, sizeof(float) * n);
            if (!b) { rc = fail(CDNNL_ERR_MEMORY, "cdnnl_linear: out of memory", dnnl_success); goto done; }
            for (int64_t j = 0; j < n; j++) b[j] = bias[j] / scales[j];
            bias = b;
        }
    }
    void *scratch = buffer(t, BUF_SCRATCH, e->scratch_bytes);
    if (!scratch) { rc = fail(CDNNL_ERR_MEMORY, "cdnnl_linear: out of memory", dnnl_success); goto done; }

    dnnl_memory_desc_t smd, dmd, bmd, scmd, zpmd, spmd;
    dnnl_dims_t sd = {m, k}, dd = {m, n}, bd = {1, n}, scd = {n}, one = {1}, spd = {(int64_t)e->scratch_bytes};
    TRY(dnnl_memory_desc_init_by_tag(&smd, 2, sd, src_type(w->precision, w->int8_mode), dnnl_ab));
    TRY(dnnl_memory_desc_init_by_tag(&dmd, 2, dd, dnnl_f32, dnnl_ab));
    TRY(dnnl_memory_create(&mem[nargs], &smd, g_engine, (void *)src));
    args[nargs].arg = DNNL_ARG_SRC; args[nargs].memory = mem[nargs]; nargs++;
    TRY(dnnl_memory_create(&mem[nargs], &w->md, g_engine, w->data));
    args[nargs].arg = DNNL_ARG_WEIGHTS; args[nargs].memory = mem[nargs]; nargs++;
    TRY(dnnl_memory_create(&mem[nargs], &dmd, g_engine, y));
    args[nargs].arg = DNNL_ARG_DST; args[nargs].memory = mem[nargs]; nargs++;
    int postops = int8_postops(w->precision, w->int8_mode);
    if (bias) {
        // The matmul's bias, or (int8 post-ops) the operand of post-op 1.
        TRY(dnnl_memory_desc_init_by_tag(&bmd, 2, bd, dnnl_f32, dnnl_ab));
        TRY(dnnl_memory_create(&mem[nargs], &bmd, g_engine, (void *)bias));
        args[nargs].arg = postops ? (DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1) : DNNL_ARG_BIAS;
        args[nargs].memory = mem[nargs]; nargs++;
    }
    if (e->scratch_bytes) {
        TRY(dnnl_memory_desc_init_by_tag(&spmd, 1, spd, dnnl_u8, dnnl_a));
        TRY(dnnl_memory_create(&mem[nargs], &spmd, g_engine, scratch));
        args[nargs].arg = DNNL_ARG_SCRATCHPAD; args[nargs].memory = mem[nargs]; nargs++;
    }
    if (w->precision == CDNNL_INT8) {
        if (postops) {   // post-op 0: binary mul by scales[1, N]
            TRY(dnnl_memory_desc_init_by_tag(&scmd, 2, bd, dnnl_f32, dnnl_ab));
            TRY(dnnl_memory_create(&mem[nargs], &scmd, g_engine, t->buf[BUF_SCALES]));
            args[nargs].arg = DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1;
        } else {
            TRY(dnnl_memory_desc_init_by_tag(&scmd, 1, scd, dnnl_f32, dnnl_a));
            TRY(dnnl_memory_create(&mem[nargs], &scmd, g_engine, t->buf[BUF_SCALES]));
            args[nargs].arg = DNNL_ARG_ATTR_OUTPUT_SCALES;
        }
        args[nargs].memory = mem[nargs]; nargs++;
        if (!is_s8(w->int8_mode)) {
            TRY(dnnl_memory_desc_init_by_tag(&zpmd, 1, one, dnnl_s32, dnnl_a));
            TRY(dnnl_memory_create(&mem[nargs], &zpmd, g_engine, &x_zp));
            args[nargs].arg = DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC; args[nargs].memory = mem[nargs]; nargs++;
        }
    }
    TRY(dnnl_primitive_execute(e->prim, t->stream, nargs, args));
    TRY(dnnl_stream_wait(t->stream));
done:
    for (int i = 0; i < 7; i++)
        if (mem[i]) dnnl_memory_destroy(mem[i]);
    if (e) release(e);
    if (saved_threads != threads) omp_set_num_threads(saved_threads);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Row loops on oneDNN's OpenMP pool

// libgomp's own entry point for a parallel region (what GCC emits for `#pragma omp parallel`;
// clang's -fopenmp would target libomp's ABI instead): fn(data) runs on num_threads threads, the
// caller being thread 0, and returns when all have finished.
extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);

typedef struct {
    int64_t count;
    void (*body)(void *, int64_t, int64_t);
    void *ctx;
} row_job;

static void row_job_run(void *p) {
    const row_job *j = p;
    int c = omp_get_thread_num(), n = omp_get_num_threads();
    int64_t begin = j->count * c / n, end = j->count * (c + 1) / n;
    if (begin < end) j->body(j->ctx, begin, end);
}

void cdnnl_parallel_for(int64_t count, int threads, void (*body)(void *ctx, int64_t begin, int64_t end), void *ctx) {
    if (count <= 0) return;
    int chunks = threads < 1 ? 1 : (threads > CDNNL_MAX_THREADS ? CDNNL_MAX_THREADS : threads);
    if (chunks > count) chunks = (int)count;
    if (chunks == 1) { body(ctx, 0, count); return; }
    row_job j = {count, body, ctx};
    GOMP_parallel(row_job_run, &j, (unsigned)chunks, 0);
}

// ---------------------------------------------------------------------------------------------
// Wait policy

extern int execv(const char *path, char *const argv[]);

int cdnnl_reexec_with_passive_wait(char *const *argv) {
    const char *again = getenv("KESTREL_OMP_REEXEC");
    if ((again && strcmp(again, "0") == 0) || getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return 0;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) || setenv("KESTREL_OMP_REEXEC", "0", 1)) return -1;
    execv("/proc/self/exe", argv);
    unsetenv("OMP_WAIT_POLICY");   // exec failed: libgomp already runs with its default
    return -1;
}
