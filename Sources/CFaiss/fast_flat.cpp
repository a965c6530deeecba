// fast_flat.cpp: see fast_flat.h.
#include "fast_flat.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/impl/DistanceComputer.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/utils/Heap.h>
#include <faiss/utils/distances.h>
#include <omp.h>

#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <typeinfo>
#include <vector>

// libgomp's entry point for a parallel region (the call GCC emits for `#pragma omp parallel`).
// This target is compiled by the Swift toolchain's clang, whose OpenMP lowering targets libomp's
// __kmpc_* API, which libgomp (FAISS's runtime here) lacks; calling libgomp directly runs our
// threads in the same pool FAISS uses. fn runs on `num_threads` threads (0 = the default count).
extern "C" void GOMP_parallel(void (*fn)(void*), void* data, unsigned num_threads, unsigned flags);

namespace cfaiss_fast {
namespace {

/// Runs body(t) for t in 0..<threads on libgomp's threads (inline when threads == 1).
template <class Body>
void parallel_for_threads(int threads, Body& body) {
    if (threads <= 1) {
        body(0);
        return;
    }
    struct Context {
        Body* body;
        int threads;
        std::atomic<int> next{0};
    } context{&body, threads};
    GOMP_parallel(
        [](void* raw) {
            auto* c = static_cast<Context*>(raw);
            // Work is handed out by a counter, so a smaller team than asked still does it all.
            for (int t = c->next.fetch_add(1); t < c->threads; t = c->next.fetch_add(1)) (*c->body)(t);
        },
        &context, unsigned(threads), 0);
}

using idx_t = faiss::Index::idx_t;

// ---- kernels -------------------------------------------------------------------------------

/// Portable: 8 independent partial sums (the compiler may keep them in SSE registers).
float ip_portable(const float* x, const float* y, size_t d) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= d; i += 8) {
        for (int j = 0; j < 8; j++) acc[j] += x[i + j] * y[i + j];
    }
    for (; i < d; i++) acc[i & 7] += x[i] * y[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

__attribute__((target("avx2,fma"))) float ip_avx2(const float* x, const float* y, size_t d) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
    }
    for (; i + 8 <= d; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
    __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float r = _mm_cvtss_f32(h);
    for (; i < d; i++) r += x[i] * y[i];
    return r;
}

__attribute__((target("avx512f"))) float ip_avx512(const float* x, const float* y, size_t d) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), _mm512_loadu_ps(y + i + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), _mm512_loadu_ps(y + i + 48), a3);
    }
    for (; i + 16 <= d; i += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
    if (i < d) {
        __mmask16 m = __mmask16((1u << (d - i)) - 1u);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i), a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

/// Four rows at once, each row summed exactly as ip_avx512 sums it.
__attribute__((target("avx512f"))) void ip4_avx512(
    const float* x, const float* y0, const float* y1, const float* y2, const float* y3, size_t d, float* out) {
    const float* y[4] = {y0, y1, y2, y3};
    __m512 a[4][4];
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < 4; j++) a[r][j] = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        __m512 q0 = _mm512_loadu_ps(x + i), q1 = _mm512_loadu_ps(x + i + 16);
        __m512 q2 = _mm512_loadu_ps(x + i + 32), q3 = _mm512_loadu_ps(x + i + 48);
        for (int r = 0; r < 4; r++) {
            a[r][0] = _mm512_fmadd_ps(q0, _mm512_loadu_ps(y[r] + i), a[r][0]);
            a[r][1] = _mm512_fmadd_ps(q1, _mm512_loadu_ps(y[r] + i + 16), a[r][1]);
            a[r][2] = _mm512_fmadd_ps(q2, _mm512_loadu_ps(y[r] + i + 32), a[r][2]);
            a[r][3] = _mm512_fmadd_ps(q3, _mm512_loadu_ps(y[r] + i + 48), a[r][3]);
        }
    }
    for (; i + 16 <= d; i += 16) {
        __m512 q0 = _mm512_loadu_ps(x + i);
        for (int r = 0; r < 4; r++) a[r][0] = _mm512_fmadd_ps(q0, _mm512_loadu_ps(y[r] + i), a[r][0]);
    }
    if (i < d) {
        __mmask16 m = __mmask16((1u << (d - i)) - 1u);
        __m512 q0 = _mm512_maskz_loadu_ps(m, x + i);
        for (int r = 0; r < 4; r++) a[r][1] = _mm512_fmadd_ps(q0, _mm512_maskz_loadu_ps(m, y[r] + i), a[r][1]);
    }
    for (int r = 0; r < 4; r++) {
        out[r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[r][0], a[r][1]), _mm512_add_ps(a[r][2], a[r][3])));
    }
}

template <InnerProduct ip>
void ip4_each(const float* x, const float* y0, const float* y1, const float* y2, const float* y3, size_t d, float* out) {
    out[0] = ip(x, y0, d);
    out[1] = ip(x, y1, d);
    out[2] = ip(x, y2, d);
    out[3] = ip(x, y3, d);
}

float ip_faiss(const float* x, const float* y, size_t d) { return faiss::fvec_inner_product(x, y, d); }

int detect_best() {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return kAVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return kAVX2;
    return kPortable;
}

int initial_level() {
    int best = detect_best();
    const char* env = std::getenv("KESTREL_FAISS_SIMD");
    if (!env || !*env) return best;
    int want = best;
    if (!std::strcmp(env, "faiss")) want = kFaiss;
    else if (!std::strcmp(env, "portable")) want = kPortable;
    else if (!std::strcmp(env, "avx2")) want = kAVX2;
    else if (!std::strcmp(env, "avx512")) want = kAVX512;
    return std::min(want, best);
}

std::atomic<int>& level_cell() {
    static std::atomic<int> cell(initial_level());
    return cell;
}

// ---- storage ---------------------------------------------------------------------------------

/// Queries per search call from which FAISS's BLAS path (sgemm + heaps) is used instead.
constexpr idx_t kBlasQueries = 20;
/// Base floats per thread below which a single query is not split over threads.
constexpr size_t kFloatsPerThread = size_t(1) << 18;

struct FastIPDistance : faiss::FlatCodesDistanceComputer {
    size_t d;
    const float* q = nullptr;
    const float* b;
    InnerProduct ip;

    FastIPDistance(const faiss::IndexFlat& storage, InnerProduct ip)
            : faiss::FlatCodesDistanceComputer(storage.codes.data(), storage.code_size),
              d(size_t(storage.d)),
              b(storage.get_xb()),
              ip(ip) {}

    void set_query(const float* x) override { q = x; }
    float distance_to_code(const uint8_t* code) final { return ip(q, reinterpret_cast<const float*>(code), d); }
    float symmetric_dis(idx_t i, idx_t j) override { return ip(b + j * d, b + i * d, d); }
};

/// Moves `codes` into a buffer of at least `capacity` bytes whose 2 MB-aligned part is marked
/// for transparent huge pages before any of it is touched. Graph building and search read rows
/// at random: with 4 KB pages nearly every row costs a TLB miss (PyPI's faiss-cpu gets huge
/// pages for its codes; measured 1.7x on HNSW build at 30,000 x 512 before this). Where the
/// kernel does not do madvise-mode huge pages this is only a copy.
void regrow_on_huge_pages(std::vector<uint8_t>& codes, size_t capacity) {
    std::vector<uint8_t> fresh;
    fresh.reserve(capacity);
    constexpr uintptr_t huge = uintptr_t(2) << 20;
    uintptr_t first = (reinterpret_cast<uintptr_t>(fresh.data()) + huge - 1) & ~(huge - 1);
    uintptr_t last = (reinterpret_cast<uintptr_t>(fresh.data()) + capacity) & ~(huge - 1);
    if (last > first) ::madvise(reinterpret_cast<void*>(first), size_t(last - first), MADV_HUGEPAGE);
    fresh.insert(fresh.end(), codes.begin(), codes.end());
    codes.swap(fresh);
}

/// Inner-product IndexFlat with SIMD distances (see the file comment of fast_flat.h).
struct FastFlatIP : faiss::IndexFlatIP {
    explicit FastFlatIP(idx_t d) : faiss::IndexFlatIP(d) {}

    /// IndexFlatCodes::add, growing the codes (by doubling) on huge pages.
    void add(idx_t n, const float* x) override {
        size_t need = size_t(ntotal + n) * code_size;
        if (n > 0 && need > codes.capacity() && need >= (size_t(4) << 20)) {
            regrow_on_huge_pages(codes, std::max(need, 2 * codes.capacity()));
        }
        faiss::IndexFlatIP::add(n, x);
    }

    faiss::FlatCodesDistanceComputer* get_FlatCodesDistanceComputer() const override {
        int level = current_level();
        if (level == kFaiss) return faiss::IndexFlatIP::get_FlatCodesDistanceComputer();
        return new FastIPDistance(*this, kernel(level));
    }

    void search(
        idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
        const faiss::SearchParameters* params) const override {
        int level = current_level();
        if (level == kFaiss || n >= kBlasQueries || k <= 0) {
            return faiss::IndexFlatIP::search(n, x, k, distances, labels, params);
        }
        const faiss::IDSelector* sel = params ? params->sel : nullptr;
        InnerProduct ip = kernel(level);
        const float* xb = get_xb();
        size_t nb = size_t(ntotal), dd = size_t(d), kk = size_t(k);
        int threads = int(std::min<size_t>(size_t(std::max(omp_get_max_threads(), 1)),
                                           std::max<size_t>(1, nb * dd / kFloatsPerThread)));
        std::vector<float> part_d(size_t(threads) * kk);
        std::vector<idx_t> part_i(size_t(threads) * kk);
        for (idx_t qi = 0; qi < n; qi++) {
            const float* q = x + qi * dd;
            float* out_d = distances + qi * kk;
            idx_t* out_i = labels + qi * kk;
            // Rows [nb * t / threads, nb * (t + 1) / threads) make part t, each with its own heap.
            auto part = [&](int t) {
                float* hd = part_d.data() + size_t(t) * kk;
                idx_t* hi = part_i.data() + size_t(t) * kk;
                faiss::minheap_heapify(kk, hd, hi);
                size_t j0 = nb * size_t(t) / size_t(threads), j1 = nb * size_t(t + 1) / size_t(threads);
                for (size_t j = j0; j < j1; j++) {
                    if (sel && !sel->is_member(idx_t(j))) continue;
                    float s = ip(q, xb + j * dd, dd);
                    if (s > hd[0]) faiss::minheap_replace_top(kk, hd, hi, s, idx_t(j));
                }
            };
            parallel_for_threads(threads, part);
            std::copy(part_d.begin(), part_d.begin() + kk, out_d);
            std::copy(part_i.begin(), part_i.begin() + kk, out_i);
            for (int t = 1; t < threads; t++) {
                for (size_t r = 0; r < kk; r++) {
                    idx_t id = part_i[size_t(t) * kk + r];
                    float s = part_d[size_t(t) * kk + r];
                    if (id >= 0 && s > out_d[0]) faiss::minheap_replace_top(kk, out_d, out_i, s, id);
                }
            }
            faiss::minheap_reorder(kk, out_d, out_i);
        }
    }
};

/// A fast copy of `flat` holding its codes (moved out of `flat`), or null if `flat` is not a
/// plain inner-product IndexFlat.
FastFlatIP* take_fast(faiss::IndexFlat* flat) {
    if (!flat || flat->metric_type != faiss::METRIC_INNER_PRODUCT) return nullptr;
    const std::type_info& t = typeid(*flat);
    if (t != typeid(faiss::IndexFlat) && t != typeid(faiss::IndexFlatIP)) return nullptr;
    auto* fast = new FastFlatIP(flat->d);
    if (flat->codes.size() >= (size_t(4) << 20)) {
        regrow_on_huge_pages(fast->codes, flat->codes.size());
        fast->codes.insert(fast->codes.end(), flat->codes.begin(), flat->codes.end());
        std::vector<uint8_t>().swap(flat->codes);
    } else {
        fast->codes.swap(flat->codes);
    }
    fast->ntotal = flat->ntotal;
    fast->is_trained = flat->is_trained;
    fast->verbose = flat->verbose;
    flat->ntotal = 0;
    return fast;
}

/// Replaces the owned index in *slot if it is plain flat storage.
int upgrade(faiss::Index** slot) {
    auto* flat = dynamic_cast<faiss::IndexFlat*>(*slot);
    FastFlatIP* fast = take_fast(flat);
    if (!fast) return 0;
    delete flat;
    *slot = fast;
    return 1;
}

}  // namespace

int best_level() {
    static const int best = detect_best();
    return best;
}

int current_level() { return level_cell().load(std::memory_order_relaxed); }

int set_level(int level) {
    level = std::max(0, std::min(level, best_level()));
    level_cell().store(level, std::memory_order_relaxed);
    return level;
}

InnerProduct kernel(int level) {
    switch (std::min(level, best_level())) {
        case kAVX512: return ip_avx512;
        case kAVX2: return ip_avx2;
        case kPortable: return ip_portable;
        default: return ip_faiss;
    }
}

InnerProduct4 kernel4(int level) {
    switch (std::min(level, best_level())) {
        case kAVX512: return ip4_avx512;
        case kAVX2: return ip4_each<ip_avx2>;
        case kPortable: return ip4_each<ip_portable>;
        default: return ip4_each<ip_faiss>;
    }
}

const float* flat_codes(const faiss::Index* flat) {
    auto* f = dynamic_cast<const faiss::IndexFlat*>(flat);
    return f ? f->get_xb() : nullptr;
}

int use_fast_storage(std::unique_ptr<faiss::Index>& root) {
    if (current_level() == kFaiss || !root) return 0;
    faiss::IndexPreTransform* parent = nullptr;
    faiss::Index* top = root.get();
    while (auto* pre = dynamic_cast<faiss::IndexPreTransform*>(top)) {
        parent = pre;
        top = pre->index;
    }
    if (auto* flat = dynamic_cast<faiss::IndexFlat*>(top)) {
        if (parent) return parent->own_fields ? upgrade(&parent->index) : 0;
        FastFlatIP* fast = take_fast(flat);
        if (!fast) return 0;
        root.reset(fast);
        return 1;
    }
    int swapped = 0;
    if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(top); hnsw && hnsw->own_fields && hnsw->storage) {
        swapped += upgrade(&hnsw->storage);
    }
    if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(top); ivf && ivf->own_fields && ivf->quantizer) {
        swapped += upgrade(&ivf->quantizer);
    }
    return swapped;
}

bool is_fast(const faiss::Index* index) {
    while (auto* pre = dynamic_cast<const faiss::IndexPreTransform*>(index)) index = pre->index;
    if (dynamic_cast<const FastFlatIP*>(index)) return true;
    if (auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(index)) return dynamic_cast<const FastFlatIP*>(hnsw->storage);
    if (auto* ivf = dynamic_cast<const faiss::IndexIVF*>(index)) return dynamic_cast<const FastFlatIP*>(ivf->quantizer);
    return false;
}

}  // namespace cfaiss_fast
