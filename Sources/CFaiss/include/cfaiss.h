// cfaiss: Kestrel's small extern "C" surface over the FAISS C++ library.
//
// Debian's libfaiss-dev ships only the C++ static library, so this target wraps the few
// operations KestrelIndex needs. Rules of the surface:
//   - Every function returns a cfaiss_status (0 = OK). On failure the message is readable with
//     cfaiss_last_error() on the same thread until the next cfaiss call on that thread.
//     No C++ exception ever crosses this boundary.
//   - Vectors are float32, row-major, `d` floats per row. The metric is always inner product.
//   - Ids are caller-chosen, stable int64 values (>= 0). Internally every index stores its own
//     sequential slot numbers and the handle maps slots <-> ids, so every FAISS type (Flat, HNSW,
//     IVF, PQ, SQ) gets 64-bit ids, per-call search parameters and id filtering.
//   - HNSW cannot delete: removed ids become tombstones that an IDSelector hides at search time;
//     when tombstones exceed half the slots, the graph is rebuilt from its stored vectors.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t cfaiss_status;
enum {
    CFAISS_OK = 0,
    CFAISS_ERR_FAISS = 1,     // faiss::FaissException
    CFAISS_ERR_STD = 2,       // any other std::exception (bad_alloc included)
    CFAISS_ERR_ARGUMENT = 3,  // bad argument: null pointer, duplicate id, unknown id, negative id
    CFAISS_ERR_IO = 4,        // file could not be opened / written / synced
    CFAISS_ERR_FORMAT = 5,    // serialized bytes are not a cfaiss blob
    CFAISS_ERR_UNKNOWN = 6,   // a non-std exception
};

/// Index family, derived from the FAISS type behind the handle.
enum {
    CFAISS_KIND_FLAT = 0,   // IndexFlat / IndexScalarQuantizer / IndexPQ ...: remove compacts
    CFAISS_KIND_HNSW = 1,   // IndexHNSW*: remove = tombstone
    CFAISS_KIND_IVF = 2,    // IndexIVF*: remove from inverted lists
};

typedef struct cfaiss_index cfaiss_index;

/// Message of the last failure on this thread ("" if none). Valid until the next cfaiss call.
const char* cfaiss_last_error(void);

/// Sets the OpenMP thread count FAISS uses (<= 0: leave OpenMP's default). Returns the count in effect.
int32_t cfaiss_set_num_threads(int32_t n);

/// Creates an inner-product index from a FAISS factory string ("Flat", "HNSW32,Flat",
/// "IVF1024,Flat", "IVF1024,PQ64", "SQ8", ...). `hnsw_ef_construction` <= 0 keeps FAISS's default.
cfaiss_status cfaiss_create(int32_t d, const char* factory, int32_t hnsw_ef_construction, cfaiss_index** out);
void cfaiss_free(cfaiss_index* index);

int32_t cfaiss_dimension(const cfaiss_index* index);
int32_t cfaiss_kind(const cfaiss_index* index);
/// Live vectors (tombstones excluded).
int64_t cfaiss_ntotal(const cfaiss_index* index);
int32_t cfaiss_is_trained(const cfaiss_index* index);
/// The efSearch an HNSW search uses when it passes none (0 for other kinds). cfaiss_search with
/// another ef_search changes it, so only searches with this value may run concurrently.
int32_t cfaiss_hnsw_ef_search(const cfaiss_index* index);
/// Number of IVF lists (0 for other kinds).
int64_t cfaiss_nlist(const cfaiss_index* index);

cfaiss_status cfaiss_train(cfaiss_index* index, int64_t n, const float* x);
/// Adds n vectors with ids. Fails (adding nothing) if an id is negative, repeated, or present.
cfaiss_status cfaiss_add_with_ids(cfaiss_index* index, int64_t n, const float* x, const int64_t* ids);

/// Searches nq queries for k results each. distances/labels have nq*k slots; missing results
/// have label -1. nprobe (IVF) and ef_search (HNSW) apply to this call only (<= 0: index default).
/// If allowed != NULL only the n_allowed listed ids can be returned (small sets are ranked exactly).
cfaiss_status cfaiss_search(
    const cfaiss_index* index, int64_t nq, const float* queries, int64_t k,
    int32_t nprobe, int32_t ef_search, const int64_t* allowed, int64_t n_allowed,
    float* distances, int64_t* labels);

/// Removes the listed ids; unknown ids are ignored. *removed receives how many were removed.
cfaiss_status cfaiss_remove_ids(cfaiss_index* index, int64_t n, const int64_t* ids, int64_t* removed);
/// Drops HNSW tombstones by rebuilding the graph from its stored vectors (no-op for other kinds).
cfaiss_status cfaiss_compact(cfaiss_index* index);

int32_t cfaiss_contains(const cfaiss_index* index, int64_t id);
/// Copies the live ids (cfaiss_ntotal of them) into out, in slot order.
void cfaiss_ids(const cfaiss_index* index, int64_t* out);
/// Reconstructs the stored vector of id into out (d floats); lossy for PQ / SQ codes.
cfaiss_status cfaiss_reconstruct(const cfaiss_index* index, int64_t id, float* out);

/// Serializes index + id map into a malloc'ed buffer; release it with cfaiss_buffer_free.
cfaiss_status cfaiss_serialize(const cfaiss_index* index, uint8_t** data, size_t* size);
cfaiss_status cfaiss_deserialize(const uint8_t* data, size_t size, cfaiss_index** out);
void cfaiss_buffer_free(uint8_t* data);

/// Writes the serialized index to path (fsync'ed; not atomic - KestrelIndex does the atomic dance).
cfaiss_status cfaiss_write(const cfaiss_index* index, const char* path);
cfaiss_status cfaiss_read(const char* path, cfaiss_index** out);

/// Exact k-NN by inner product of nq queries against nb base rows (ranks are base row numbers).
cfaiss_status cfaiss_knn_exact(
    int32_t d, int64_t nq, const float* queries, int64_t nb, const float* base, int64_t k,
    float* distances, int64_t* labels);

/// Distance code levels of the flat storage (Flat, the storage of HNSW*,Flat, IVF's coarse
/// quantizer): 0 = FAISS's own code (scalar in Debian's build; plain FAISS classes), 1 = portable
/// C++, 2 = AVX2 + FMA, 3 = AVX-512F. The best level the CPU supports is used unless the
/// environment variable KESTREL_FAISS_SIMD (faiss|portable|avx2|avx512) caps it.
enum { CFAISS_SIMD_FAISS = 0, CFAISS_SIMD_PORTABLE = 1, CFAISS_SIMD_AVX2 = 2, CFAISS_SIMD_AVX512 = 3 };
/// Best level this CPU supports.
int32_t cfaiss_simd_best(void);
/// Level in effect for indexes created or read from now on, and for every search.
int32_t cfaiss_simd_level(void);
/// Test and benchmark hook: sets the level (clamped to 0...best), returns the level in effect.
/// Process-wide: not for use while other threads create, read or search indexes.
int32_t cfaiss_set_simd_level(int32_t level);
/// <x, y> over d floats with the kernel of `level` (clamped to the best level); for tests.
float cfaiss_inner_product(int32_t level, const float* x, const float* y, int64_t d);
/// 1 if the handle's flat storage runs on the shim's SIMD code, else 0.
int32_t cfaiss_uses_fast_storage(const cfaiss_index* index);

/// The share of a full HNSW neighbour list the shim's graph build leaves free when a reverse link
/// makes it prune (FAISS's HNSW::prune_headroom, FAISS >= 1.14.2): 0 prunes to capacity as
/// Debian's FAISS 1.7.3 does; the default 0.2 is later FAISS's. Applies to HNSW*,Flat adds on the
/// fast storage (level >= 1), to lists of 16 slots or more; FAISS's own code (level 0, and
/// HNSW*,SQ* / HNSW*,PQ*) and shorter lists always prune to capacity.
float cfaiss_hnsw_prune_headroom(void);
/// Test and benchmark hook: sets it (clamped to 0...0.5; NaN gives 0), returns the value in effect.
/// Process-wide: not for use while other threads add to HNSW indexes.
float cfaiss_set_hnsw_prune_headroom(float headroom);

/// 64-bit content hash (for corruption checks of persisted payloads).
uint64_t cfaiss_checksum(const void* data, size_t size);

#ifdef __cplusplus
}
#endif
