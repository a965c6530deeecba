// CKernels: three builds of kernels_body.h (AVX-512, AVX2+FMA, portable) and the runtime choice
// between them. Only the SIMD functions carry target attributes; the file itself is compiled for
// baseline x86-64, and a SIMD build is called only after __builtin_cpu_supports said yes.
#include "ckernels.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CK_X86 1
#endif

typedef struct {
    void (*layernorm_rows)(const float *, float *, long, long, long, const float *, const float *, float);
    void (*gelu)(float *, long);
    void (*gelu_tanh)(float *, long);
    void (*quick_gelu)(float *, long);
    void (*softmax_rows)(float *, long, long, long);
    void (*l2_normalize_rows)(float *, long, long, long);
    void (*add)(float *, const float *, long);
    int (*attention)(const float *, const float *, const float *, float *, long, long, long, long, long, long,
                     long, int, const long *, long, long);
} ck_table;

// ---- Portable: one float per "vector"; the compiler may vectorise the loops for SSE2 itself.
#define TGT
#define FN(name) ck_portable_##name
#define VF float
#define W 1
#define CK_QB 4
static inline float pf_pow2(float t) {
    int32_t bits;
    memcpy(&bits, &t, 4);
    bits = (bits - 0x4B400000 + 127) << 23;
    float r;
    memcpy(&r, &bits, 4);
    return r;
}
static inline float pf_abs(float x) { return fabsf(x); }
#define vset1(f) ((float)(f))
#define vzero() 0.0f
#define vload(p) (*(p))
#define vstore(p, v) (*(p) = (v))
#define vloadn(p, n, fill) ((void)(n), (void)(fill), *(p))
#define vstoren(p, v, n) ((void)(n), *(p) = (v))
#define vadd(a, b) ((a) + (b))
#define vsub(a, b) ((a) - (b))
#define vmul(a, b) ((a) * (b))
#define vdiv(a, b) ((a) / (b))
#define vmax(a, b) ((a) > (b) ? (a) : (b))
#define vmin(a, b) ((a) < (b) ? (a) : (b))
#define vfma(a, b, c) ((a) * (b) + (c))
#define vfnma(a, b, c) ((c) - (a) * (b))
#define vsel_lt(x, y, a, b) ((x) < (y) ? (a) : (b))
#define vabs(x) pf_abs(x)
#define vhsum(v) (v)
#define vhmax(v) (v)
#define vpow2(t) pf_pow2(t)
#include "kernels_body.h"
#include "kernels_undef.h"

#ifdef CK_X86
// ---- AVX2 + FMA: 8 lanes.
#define TGT __attribute__((target("avx2,fma")))
#define FN(name) ck_avx2_##name
#define VF __m256
#define W 8
#define CK_QB 4
static inline TGT __m256i a2_mask(long n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline TGT __m256 a2_loadn(const float *p, long n, float fill) {
    __m256i m = a2_mask(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
static inline TGT float a2_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline TGT float a2_hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline TGT __m256 a2_pow2(__m256 t) {
    __m256i bits = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000 - 127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(bits, 23));
}
#define vset1(f) _mm256_set1_ps(f)
#define vzero() _mm256_setzero_ps()
#define vload(p) _mm256_loadu_ps(p)
#define vstore(p, v) _mm256_storeu_ps((p), (v))
#define vloadn(p, n, fill) a2_loadn((p), (n), (fill))
#define vstoren(p, v, n) _mm256_maskstore_ps((p), a2_mask(n), (v))
#define vadd _mm256_add_ps
#define vsub _mm256_sub_ps
#define vmul _mm256_mul_ps
#define vdiv _mm256_div_ps
#define vmax _mm256_max_ps
#define vmin _mm256_min_ps
#define vfma _mm256_fmadd_ps
#define vfnma _mm256_fnmadd_ps
#define vsel_lt(x, y, a, b) _mm256_blendv_ps((b), (a), _mm256_cmp_ps((x), (y), _CMP_LT_OQ))
#define vabs(x) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), (x))
#define vhsum(v) a2_hsum(v)
#define vhmax(v) a2_hmax(v)
#define vpow2(t) a2_pow2(t)
#include "kernels_body.h"
#include "kernels_undef.h"

// ---- AVX-512 (F, BW, VL, DQ): 16 lanes, masked tails.
#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))
#define FN(name) ck_avx512_##name
#define VF __m512
#define W 16
#define CK_QB 8
static inline TGT __m512 a5_pow2(__m512 t) {
    __m512i bits = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(0x4B400000 - 127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(bits, 23));
}
#define A5_MASK(n) ((__mmask16)((1u << (n)) - 1u))
#define vset1(f) _mm512_set1_ps(f)
#define vzero() _mm512_setzero_ps()
#define vload(p) _mm512_loadu_ps(p)
#define vstore(p, v) _mm512_storeu_ps((p), (v))
#define vloadn(p, n, fill) _mm512_mask_loadu_ps(_mm512_set1_ps(fill), A5_MASK(n), (p))
#define vstoren(p, v, n) _mm512_mask_storeu_ps((p), A5_MASK(n), (v))
#define vadd _mm512_add_ps
#define vsub _mm512_sub_ps
#define vmul _mm512_mul_ps
#define vdiv _mm512_div_ps
#define vmax _mm512_max_ps
#define vmin _mm512_min_ps
#define vfma _mm512_fmadd_ps
#define vfnma _mm512_fnmadd_ps
#define vsel_lt(x, y, a, b) _mm512_mask_blend_ps(_mm512_cmp_ps_mask((x), (y), _CMP_LT_OQ), (b), (a))
#define vabs(x) _mm512_abs_ps(x)
#define vhsum(v) _mm512_reduce_add_ps(v)
#define vhmax(v) _mm512_reduce_max_ps(v)
#define vpow2(t) a5_pow2(t)
#include "kernels_body.h"
#endif  // CK_X86

// ---- Runtime choice.

static int best_level_now(void) {
#ifdef CK_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return CK_LEVEL_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CK_LEVEL_AVX2;
#endif
    return CK_LEVEL_PORTABLE;
}

static const ck_table *table_for(int level) {
#ifdef CK_X86
    if (level == CK_LEVEL_AVX512) return &ck_avx512_table;
    if (level == CK_LEVEL_AVX2) return &ck_avx2_table;
#endif
    return &ck_portable_table;
}

// -1 until first use; then the best level, computed once.
static int best_cached = -1;
static const ck_table *_Atomic active_table = NULL;
static int _Atomic active_level = -1;

int ck_best_level(void) {
    int b = __atomic_load_n(&best_cached, __ATOMIC_ACQUIRE);
    if (b < 0) {
        b = best_level_now();
        __atomic_store_n(&best_cached, b, __ATOMIC_RELEASE);
    }
    return b;
}

static const ck_table *active(void) {
    const ck_table *t = active_table;
    if (t) return t;
    int level = ck_best_level();
    active_level = level;
    active_table = table_for(level);
    return active_table;
}

int ck_level(void) {
    (void)active();
    return active_level;
}

int ck_set_level(int level) {
    if (level < 0) level = ck_best_level();
    if (level > ck_best_level() || level > CK_LEVEL_AVX512) return -1;
    active_level = level;
    active_table = table_for(level);
    return 0;
}

void ck_layernorm_rows(const float *x, float *y, long r0, long r1, long c, const float *w, const float *b, float eps) {
    if (r1 > r0 && c > 0) active()->layernorm_rows(x, y, r0, r1, c, w, b, eps);
}
void ck_gelu(float *x, long n) { if (n > 0) active()->gelu(x, n); }
void ck_gelu_tanh(float *x, long n) { if (n > 0) active()->gelu_tanh(x, n); }
void ck_quick_gelu(float *x, long n) { if (n > 0) active()->quick_gelu(x, n); }
void ck_softmax_rows(float *x, long r0, long r1, long c) { if (r1 > r0 && c > 0) active()->softmax_rows(x, r0, r1, c); }
void ck_l2_normalize_rows(float *x, long r0, long r1, long c) {
    if (r1 > r0 && c > 0) active()->l2_normalize_rows(x, r0, r1, c);
}
void ck_add(float *x, const float *y, long n) { if (n > 0) active()->add(x, y, n); }
int ck_attention(const float *q, const float *k, const float *v, float *out, long ldq, long ldkv, long ldo, long t,
                 long s, long heads, long d, int causal, const long *valid, long task0, long task1) {
    if (task1 <= task0 || t <= 0 || s <= 0 || d <= 0 || heads <= 0) return 0;
    return active()->attention(q, k, v, out, ldq, ldkv, ldo, t, s, heads, d, causal, valid, task0, task1);
}
