// fast_flat.h: SIMD inner-product distance code for FAISS's flat storage (internal to CFaiss).
//
// Debian's libfaiss 1.7.3 is built for baseline x86-64 and computes every distance with its
// scalar reference loop (fvec_inner_product_ref: one dependent add per component). This file
// gives the shim its own kernels, picked at run time (__builtin_cpu_supports) per function
// (__attribute__((target))), and an IndexFlatIP subclass that uses them:
//   - get_FlatCodesDistanceComputer(): what IndexHNSW builds and searches with (the storage of
//     "HNSW32,Flat") and what IndexIVF's coarse quantizer is searched with;
//   - search() for fewer than kBlasQueries queries: SIMD dot products and a top-k heap,
//     split over OpenMP threads by base rows (FAISS's own path for small nq is scalar);
//     larger batches keep FAISS's BLAS path.
// The subclass is an IndexFlat, so write_index writes it as "IxFI", byte for byte what FAISS
// writes for the IndexFlatIP it replaces; read_index gives back plain IndexFlatIP, which
// use_fast_storage swaps again.
#pragma once
#include <faiss/Index.h>

#include <memory>

namespace cfaiss_fast {

/// Distance code levels: 0 = FAISS's own (scalar in Debian's build; no swap at all),
/// 1 = portable C++ (8 partial sums), 2 = AVX2 + FMA, 3 = AVX-512F.
enum Level : int { kFaiss = 0, kPortable = 1, kAVX2 = 2, kAVX512 = 3 };

/// <x, y> over d floats. Sums in a different order than FAISS's reference loop, so results agree
/// with it to float rounding (|diff| <= about d * 2^-24 * sum |x_i y_i|), not bit for bit.
using InnerProduct = float (*)(const float* x, const float* y, size_t d);

/// out[r] = <q, y_r> for r < 4; each equal, bit for bit, to the InnerProduct of the same level
/// (the four rows are read interleaved, so their memory loads overlap).
using InnerProduct4 = void (*)(const float* q, const float* y0, const float* y1, const float* y2, const float* y3,
                               size_t d, float* out);

/// Best level this CPU (and OS) supports.
int best_level();
/// Level in effect: KESTREL_FAISS_SIMD (faiss|portable|avx2|avx512) caps the best level at
/// start; set_level (tests, benchmarks) changes it, clamped to best_level(). Returns the level set.
int current_level();
int set_level(int level);
/// Kernel of a level (clamped to best_level(); level 0 is faiss::fvec_inner_product).
InnerProduct kernel(int level);

InnerProduct4 kernel4(int level);

/// The stored rows of flat storage (d floats per row).
const float* flat_codes(const faiss::Index* flat);

/// IndexHNSW::add for an index whose storage is the fast subclass (fast_hnsw_add.cpp): the same
/// graph construction as FAISS 1.7.3 on the SIMD kernels. Returns false (adding nothing) if the
/// index is not such an index or the level is 0; the caller then uses index->add.
bool fast_hnsw_add(faiss::Index* index, faiss::Index::idx_t n, const float* x);

/// The share of a full neighbour list fast_hnsw_add leaves free when a reverse link makes it
/// prune (FAISS's HNSW::prune_headroom since 1.14.2): 0 prunes to capacity as FAISS 1.7.3 does,
/// the default 0.2 as later FAISS does; lists of fewer than 16 slots always prune to capacity.
/// set_prune_headroom clamps to 0...0.5 (NaN gives 0) and returns the value set.
float prune_headroom();
float set_prune_headroom(float headroom);

/// Swaps plain inner-product IndexFlat / IndexFlatIP storage inside `root` (the index itself,
/// the core of an IndexPreTransform, an IndexHNSW's storage, an IndexIVF's coarse quantizer)
/// for the fast subclass, moving the stored codes (no copy). Does nothing at level 0, for
/// other metrics, or for storage the index does not own. Returns how many were swapped.
int use_fast_storage(std::unique_ptr<faiss::Index>& root);

/// True if `index` is (or its flat parts are) the fast subclass.
bool is_fast(const faiss::Index* index);

}  // namespace cfaiss_fast
