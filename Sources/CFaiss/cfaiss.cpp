// cfaiss.cpp: the extern "C" surface declared in include/cfaiss.h.
//
// Every FAISS index behind a handle is keyed by *slots*: slot s is the s-th vector ever added
// since the last compaction. The handle keeps slot -> id and id -> slot, because FAISS 1.7.3's
// IndexIDMap refuses SearchParameters (so no per-call nprobe/efSearch, no IDSelector).
//   FLAT kind: FAISS remove_ids compacts its storage in order, so the slot table is compacted too.
//   IVF kind:  vectors are added with their slot as FAISS id; removal takes them out of the lists.
//   HNSW kind: removal sets slot -> -1 (tombstone); a selector hides tombstones at search time.
#include "cfaiss.h"
#include "fast_flat.h"

#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/VectorTransform.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <faiss/utils/distances.h>
#include <omp.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <regex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

using faiss_idx = faiss::Index::idx_t;

struct cfaiss_index {
    std::unique_ptr<faiss::Index> index;
    std::string factory;
    int32_t kind = CFAISS_KIND_FLAT;
    int32_t ef_construction = 0;
    std::vector<int64_t> slot_ids;                 // slot -> id, -1 when removed
    std::unordered_map<int64_t, int64_t> slot_of;  // live id -> slot
};

namespace {

thread_local std::string last_error;

cfaiss_status fail(cfaiss_status code, const std::string& message) {
    last_error = message;
    return code;
}

/// FAISS's own words without its C++ wrapping: "Error in <signature> at <file>:<line>: Error:
/// '<condition>' failed: <text>" becomes "<text>". Signatures and source paths mean nothing to
/// a user of Kestrel.
std::string plain_message(const std::string& raw) {
    static const std::regex wrapping("^Error in .* at [^ ]+:[0-9]+: (Error: '.*' failed: )?");
    std::string text = std::regex_replace(raw, wrapping, "", std::regex_constants::format_first_only);
    return text.empty() ? raw : text;
}

/// Runs body, turning every exception into a status + message.
template <class Body>
cfaiss_status guarded(Body&& body) {
    last_error.clear();
    try {
        return body();
    } catch (const faiss::FaissException& e) {
        return fail(CFAISS_ERR_FAISS, plain_message(e.msg.empty() ? e.what() : e.msg));
    } catch (const std::bad_alloc&) {
        return fail(CFAISS_ERR_STD, "out of memory");
    } catch (const std::exception& e) {
        return fail(CFAISS_ERR_STD, e.what());
    } catch (...) {
        return fail(CFAISS_ERR_UNKNOWN, "unknown C++ exception");
    }
}

/// The index that stores the vectors: the sub-index of an OPQ / PCA pre-transform, else the
/// index itself. Its type decides the kind, the search parameters and the tuning knobs.
faiss::Index* core(faiss::Index* index) {
    while (auto* pre = dynamic_cast<faiss::IndexPreTransform*>(index)) index = pre->index;
    return index;
}
const faiss::Index* core(const faiss::Index* index) { return core(const_cast<faiss::Index*>(index)); }

int32_t kind_of(faiss::Index* index) {
    index = core(index);
    if (dynamic_cast<faiss::IndexHNSW*>(index)) return CFAISS_KIND_HNSW;
    if (dynamic_cast<faiss::IndexIVF*>(index)) return CFAISS_KIND_IVF;
    return CFAISS_KIND_FLAT;
}

/// k-means prints "WARNING clustering N points to K centroids: please provide at least ..." to
/// stderr itself when it gets fewer than min_points_per_centroid points per centroid. Kestrel
/// sizes its training samples and refuses too few points itself, so the line only leaks FAISS
/// text to the user: 1 point per centroid is FAISS's hard minimum anyway.
void quiet_clustering(faiss::ClusteringParameters& cp) { cp.min_points_per_centroid = 1; }

/// Accepts slots that hold a live id, optionally only ids in `allowed`.
struct SlotSelector : faiss::IDSelector {
    const std::vector<int64_t>* slot_ids;
    const std::unordered_set<int64_t>* allowed;
    SlotSelector(const std::vector<int64_t>* s, const std::unordered_set<int64_t>* a) : slot_ids(s), allowed(a) {}
    bool is_member(faiss_idx slot) const override {
        if (slot < 0 || size_t(slot) >= slot_ids->size()) return false;
        int64_t id = (*slot_ids)[slot];
        if (id < 0) return false;
        return allowed == nullptr || allowed->count(id) != 0;
    }
};

void prepare(cfaiss_index* h) {
    // Plain flat storage (also what read_index gives back) runs on the shim's SIMD distances.
    cfaiss_fast::use_fast_storage(h->index);
    h->kind = kind_of(h->index.get());
    faiss::Index* inner = core(h->index.get());
    if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(inner)) {
        quiet_clustering(ivf->cp);
        // A hashtable direct map gives reconstruct-by-slot and O(removed) removal.
        if (ivf->direct_map.type != faiss::DirectMap::Hashtable) {
            ivf->set_direct_map_type(faiss::DirectMap::Hashtable);
        }
    }
    if (auto* ivfpq = dynamic_cast<faiss::IndexIVFPQ*>(inner)) {
        // index_factory turns on polysemous training (a simulated-annealing code reordering for
        // Hamming pre-filtering we never use); it costs minutes even on tiny training sets.
        if (!ivfpq->is_trained) ivfpq->do_polysemous_training = false;
        quiet_clustering(ivfpq->pq.cp);
    }
    if (auto* pq = dynamic_cast<faiss::IndexPQ*>(inner)) {
        if (!pq->is_trained) pq->do_polysemous_training = false;
        quiet_clustering(pq->pq.cp);
    }
    if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(inner)) {
        if (h->ef_construction > 0) hnsw->hnsw.efConstruction = h->ef_construction;
    }
}

/// Trains `index`; an OPQ rotation in front trains through a product quantizer of our own whose
/// k-means stays quiet (FAISS's default one prints warnings on small samples).
void train_quietly(faiss::Index* index, faiss_idx n, const float* x) {
    std::vector<std::unique_ptr<faiss::ProductQuantizer>> quantizers;
    std::vector<faiss::OPQMatrix*> rotations;
    if (auto* pre = dynamic_cast<faiss::IndexPreTransform*>(index)) {
        for (auto* transform : pre->chain) {
            auto* opq = dynamic_cast<faiss::OPQMatrix*>(transform);
            if (!opq || opq->is_trained || opq->pq) continue;
            quantizers.push_back(std::make_unique<faiss::ProductQuantizer>(opq->d_out, opq->M, 8));
            quiet_clustering(quantizers.back()->cp);
            opq->pq = quantizers.back().get();
            rotations.push_back(opq);
        }
    }
    try {
        index->train(n, x);
    } catch (...) {
        for (auto* opq : rotations) opq->pq = nullptr;
        throw;
    }
    for (auto* opq : rotations) opq->pq = nullptr;
}

std::unique_ptr<faiss::Index> make_index(int32_t d, const std::string& factory) {
    std::unique_ptr<faiss::Index> index(faiss::index_factory(d, factory.c_str(), faiss::METRIC_INNER_PRODUCT));
    cfaiss_fast::use_fast_storage(index);
    return index;
}

int64_t live_count(const cfaiss_index* h) { return int64_t(h->slot_of.size()); }

/// HNSW: rebuild the graph from the live stored vectors, dropping tombstones.
void rebuild_hnsw(cfaiss_index* h) {
    int32_t d = h->index->d;
    std::vector<int64_t> ids;
    std::vector<float> x;
    ids.reserve(h->slot_of.size());
    x.resize(h->slot_of.size() * size_t(d));
    for (size_t s = 0; s < h->slot_ids.size(); s++) {
        if (h->slot_ids[s] < 0) continue;
        h->index->reconstruct(faiss_idx(s), x.data() + ids.size() * d);
        ids.push_back(h->slot_ids[s]);
    }
    auto fresh = make_index(d, h->factory);
    auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(core(fresh.get()));
    if (hnsw && h->ef_construction > 0) hnsw->hnsw.efConstruction = h->ef_construction;
    if (auto* old = dynamic_cast<faiss::IndexHNSW*>(core(h->index.get())); old && hnsw) {
        hnsw->hnsw.efSearch = old->hnsw.efSearch;
    }
    if (auto* pq = dynamic_cast<faiss::IndexPQ*>(core(fresh.get()))) quiet_clustering(pq->pq.cp);
    if (!fresh->is_trained && !ids.empty()) train_quietly(fresh.get(), faiss_idx(ids.size()), x.data());
    if (!ids.empty() && !cfaiss_fast::fast_hnsw_add(fresh.get(), faiss_idx(ids.size()), x.data())) {
        fresh->add(faiss_idx(ids.size()), x.data());
    }
    h->index = std::move(fresh);
    h->slot_ids = ids;
    h->slot_of.clear();
    for (size_t s = 0; s < ids.size(); s++) h->slot_of[ids[s]] = int64_t(s);
}

// Little-endian blob helpers for serialize / deserialize.
void put_bytes(std::vector<uint8_t>& out, const void* p, size_t n) {
    auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
}
template <class T>
void put(std::vector<uint8_t>& out, T v) { put_bytes(out, &v, sizeof(T)); }

struct Cursor {
    const uint8_t* data;
    size_t size, pos = 0;
    bool take(void* dst, size_t n) {
        if (n > size - pos) return false;
        std::memcpy(dst, data + pos, n);
        pos += n;
        return true;
    }
};

const char kBlobMagic[8] = {'K', 'F', 'S', 'H', 'I', 'M', '0', '1'};

}  // namespace

extern "C" {

const char* cfaiss_last_error(void) { return last_error.c_str(); }

int32_t cfaiss_set_num_threads(int32_t n) {
    if (n > 0) omp_set_num_threads(n);
    return omp_get_max_threads();
}

cfaiss_status cfaiss_create(int32_t d, const char* factory, int32_t hnsw_ef_construction, cfaiss_index** out) {
    return guarded([&]() -> cfaiss_status {
        if (!out || !factory) return fail(CFAISS_ERR_ARGUMENT, "null argument");
        *out = nullptr;
        if (d <= 0) return fail(CFAISS_ERR_ARGUMENT, "dimension must be positive, got " + std::to_string(d));
        auto h = std::make_unique<cfaiss_index>();
        h->factory = factory;
        h->ef_construction = hnsw_ef_construction;
        h->index = make_index(d, h->factory);
        prepare(h.get());
        *out = h.release();
        return CFAISS_OK;
    });
}

void cfaiss_free(cfaiss_index* index) { delete index; }

int32_t cfaiss_dimension(const cfaiss_index* h) { return h ? int32_t(h->index->d) : 0; }
int32_t cfaiss_kind(const cfaiss_index* h) { return h ? h->kind : -1; }
int64_t cfaiss_ntotal(const cfaiss_index* h) { return h ? live_count(h) : 0; }
int32_t cfaiss_is_trained(const cfaiss_index* h) { return h && h->index->is_trained ? 1 : 0; }
int32_t cfaiss_hnsw_ef_search(const cfaiss_index* h) {
    auto* hnsw = h ? dynamic_cast<const faiss::IndexHNSW*>(core(h->index.get())) : nullptr;
    return hnsw ? int32_t(hnsw->hnsw.efSearch) : 0;
}
int64_t cfaiss_nlist(const cfaiss_index* h) {
    auto* ivf = h ? dynamic_cast<const faiss::IndexIVF*>(core(h->index.get())) : nullptr;
    return ivf ? int64_t(ivf->nlist) : 0;
}

cfaiss_status cfaiss_train(cfaiss_index* h, int64_t n, const float* x) {
    return guarded([&]() -> cfaiss_status {
        if (!h || (!x && n > 0) || n < 0) return fail(CFAISS_ERR_ARGUMENT, "bad train arguments");
        train_quietly(h->index.get(), faiss_idx(n), x);
        return CFAISS_OK;
    });
}

cfaiss_status cfaiss_add_with_ids(cfaiss_index* h, int64_t n, const float* x, const int64_t* ids) {
    return guarded([&]() -> cfaiss_status {
        if (!h || n < 0 || (n > 0 && (!x || !ids))) return fail(CFAISS_ERR_ARGUMENT, "bad add arguments");
        if (n == 0) return CFAISS_OK;
        if (!h->index->is_trained) return fail(CFAISS_ERR_ARGUMENT, "index is not trained: train it before adding");
        std::unordered_set<int64_t> seen;
        seen.reserve(size_t(n));
        for (int64_t i = 0; i < n; i++) {
            if (ids[i] < 0) return fail(CFAISS_ERR_ARGUMENT, "negative id " + std::to_string(ids[i]));
            if (h->slot_of.count(ids[i]) || !seen.insert(ids[i]).second) {
                return fail(CFAISS_ERR_ARGUMENT, "duplicate id " + std::to_string(ids[i]));
            }
        }
        int64_t first = int64_t(h->slot_ids.size());
        if (h->kind == CFAISS_KIND_IVF) {
            std::vector<faiss_idx> slots(static_cast<size_t>(n));
            for (int64_t i = 0; i < n; i++) slots[i] = first + i;
            h->index->add_with_ids(faiss_idx(n), x, slots.data());
        } else {
            if (h->index->ntotal != faiss_idx(first)) return fail(CFAISS_ERR_FORMAT, "slot table out of sync");
            if (!cfaiss_fast::fast_hnsw_add(h->index.get(), faiss_idx(n), x)) h->index->add(faiss_idx(n), x);
        }
        h->slot_ids.insert(h->slot_ids.end(), ids, ids + n);
        for (int64_t i = 0; i < n; i++) h->slot_of[ids[i]] = first + i;
        return CFAISS_OK;
    });
}

cfaiss_status cfaiss_search(
    const cfaiss_index* h, int64_t nq, const float* queries, int64_t k, int32_t nprobe, int32_t ef_search,
    const int64_t* allowed, int64_t n_allowed, float* distances, int64_t* labels) {
    return guarded([&]() -> cfaiss_status {
        if (!h || nq < 0 || k <= 0 || (nq > 0 && (!queries || !distances || !labels)) || (n_allowed > 0 && !allowed)) {
            return fail(CFAISS_ERR_ARGUMENT, "bad search arguments");
        }
        if (nq == 0) return CFAISS_OK;
        if (!h->index->is_trained) return fail(CFAISS_ERR_ARGUMENT, "index is not trained");
        int32_t d = h->index->d;

        std::unordered_set<int64_t> allowed_set;
        if (allowed) allowed_set.insert(allowed, allowed + n_allowed);

        // Small allow-lists are ranked exactly over their reconstructed vectors: graph and
        // list searches return too few hits when the filter keeps only a sliver of the index.
        if (allowed && n_allowed <= 4096) {
            std::vector<int64_t> slots;
            for (int64_t id : allowed_set) {
                auto it = h->slot_of.find(id);
                if (it != h->slot_of.end()) slots.push_back(it->second);
            }
            std::vector<float> base(slots.size() * size_t(d));
            for (size_t i = 0; i < slots.size(); i++) h->index->reconstruct(faiss_idx(slots[i]), base.data() + i * d);
            for (int64_t i = 0; i < nq * k; i++) {
                labels[i] = -1;
                distances[i] = -std::numeric_limits<float>::infinity();
            }
            if (!slots.empty()) {
                std::vector<int64_t> rows(size_t(nq * k));
                faiss::knn_inner_product(queries, base.data(), size_t(d), size_t(nq), slots.size(), size_t(k),
                                         distances, rows.data());
                for (int64_t i = 0; i < nq * k; i++) labels[i] = rows[i] < 0 ? -1 : h->slot_ids[slots[rows[i]]];
            }
            return CFAISS_OK;
        }

        bool has_tombstones = h->slot_of.size() != size_t(h->index->ntotal);
        SlotSelector selector(&h->slot_ids, allowed ? &allowed_set : nullptr);
        // Each FAISS type checks that its parameters have its own type (an IndexPreTransform
        // hands them on to the index it wraps), so the parameters follow the core index.
        faiss::SearchParameters plain;
        faiss::SearchParametersHNSW hnsw_params;
        faiss::SearchParametersIVF ivf_params;
        faiss::SearchParametersPQ pq_params;
        faiss::SearchParameters* params = &plain;
        const faiss::Index* inner = core(h->index.get());
        if (auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(inner)) {
            hnsw_params.efSearch = ef_search > 0 ? ef_search : hnsw->hnsw.efSearch;
            params = &hnsw_params;
            // FAISS 1.7.3 ignores SearchParametersHNSW::efSearch and reads the member, so set it
            // for this call (KestrelIndex serialises calls on a handle).
            // Written only when it changes: KestrelIndex runs searches whose efSearch equals the
            // member concurrently, and any other search alone.
            if (hnsw->hnsw.efSearch != hnsw_params.efSearch) {
                const_cast<faiss::IndexHNSW*>(hnsw)->hnsw.efSearch = hnsw_params.efSearch;
            }
        } else if (auto* ivf = dynamic_cast<const faiss::IndexIVF*>(inner)) {
            ivf_params.nprobe = size_t(nprobe > 0 ? nprobe : int32_t(ivf->nprobe));
            if (ivf_params.nprobe > ivf->nlist) ivf_params.nprobe = ivf->nlist;
            params = &ivf_params;
        } else if (auto* pq = dynamic_cast<const faiss::IndexPQ*>(inner)) {
            pq_params.search_type = pq->search_type;
            pq_params.polysemous_ht = pq->polysemous_ht;
            params = &pq_params;
        }
        if (allowed || has_tombstones) params->sel = &selector;

        std::vector<faiss_idx> slots(size_t(nq * k));
        // FAISS 1.7.3's IndexHNSW::search opens an OpenMP team even for one query (later FAISS
        // does not: `omp parallel if (n > 1)`); the idle member costs a wake-up and a barrier per
        // search, a scheduler time slice on a busy machine. One query runs on the calling thread.
        // (The thread count is a per-thread OpenMP setting, so concurrent searches do not interfere.)
        int saved_threads = omp_get_max_threads();
        bool one_thread = nq == 1 && h->kind == CFAISS_KIND_HNSW && saved_threads > 1;
        if (one_thread) omp_set_num_threads(1);
        struct Restore {
            bool on;
            int n;
            ~Restore() { if (on) omp_set_num_threads(n); }
        } restore{one_thread, saved_threads};
        h->index->search(faiss_idx(nq), queries, faiss_idx(k), distances, slots.data(), params);
        for (int64_t i = 0; i < nq * k; i++) {
            int64_t s = slots[i];
            labels[i] = (s < 0 || size_t(s) >= h->slot_ids.size()) ? -1 : h->slot_ids[s];
        }
        return CFAISS_OK;
    });
}

cfaiss_status cfaiss_remove_ids(cfaiss_index* h, int64_t n, const int64_t* ids, int64_t* removed) {
    return guarded([&]() -> cfaiss_status {
        if (!h || n < 0 || (n > 0 && !ids)) return fail(CFAISS_ERR_ARGUMENT, "bad remove arguments");
        if (removed) *removed = 0;
        std::vector<faiss_idx> slots;
        for (int64_t i = 0; i < n; i++) {
            auto it = h->slot_of.find(ids[i]);
            if (it != h->slot_of.end()) slots.push_back(it->second);
        }
        std::sort(slots.begin(), slots.end());
        slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
        if (slots.empty()) return CFAISS_OK;

        switch (h->kind) {
            case CFAISS_KIND_IVF: {
                faiss::IDSelectorArray sel(slots.size(), slots.data());
                h->index->remove_ids(sel);
                for (auto s : slots) {
                    h->slot_of.erase(h->slot_ids[s]);
                    h->slot_ids[s] = -1;
                }
                break;
            }
            case CFAISS_KIND_FLAT: {
                faiss::IDSelectorBatch sel(slots.size(), slots.data());
                h->index->remove_ids(sel);  // compacts, keeping order
                std::vector<int64_t> kept;
                kept.reserve(h->slot_ids.size() - slots.size());
                size_t j = 0;
                for (size_t s = 0; s < h->slot_ids.size(); s++) {
                    if (j < slots.size() && faiss_idx(s) == slots[j]) { j++; continue; }
                    kept.push_back(h->slot_ids[s]);
                }
                h->slot_ids.swap(kept);
                h->slot_of.clear();
                for (size_t s = 0; s < h->slot_ids.size(); s++) h->slot_of[h->slot_ids[s]] = int64_t(s);
                if (h->index->ntotal != faiss_idx(h->slot_ids.size())) return fail(CFAISS_ERR_FAISS, "remove_ids left the slot table out of sync");
                break;
            }
            default: {  // HNSW: tombstones, rebuilt away once they are half the graph
                for (auto s : slots) {
                    h->slot_of.erase(h->slot_ids[s]);
                    h->slot_ids[s] = -1;
                }
                if (h->slot_of.size() * 2 < h->slot_ids.size()) rebuild_hnsw(h);
                break;
            }
        }
        if (removed) *removed = int64_t(slots.size());
        return CFAISS_OK;
    });
}

cfaiss_status cfaiss_compact(cfaiss_index* h) {
    return guarded([&]() -> cfaiss_status {
        if (!h) return fail(CFAISS_ERR_ARGUMENT, "null index");
        if (h->kind == CFAISS_KIND_HNSW && h->slot_of.size() != h->slot_ids.size()) rebuild_hnsw(h);
        return CFAISS_OK;
    });
}

int32_t cfaiss_contains(const cfaiss_index* h, int64_t id) { return h && h->slot_of.count(id) ? 1 : 0; }

void cfaiss_ids(const cfaiss_index* h, int64_t* out) {
    if (!h || !out) return;
    size_t j = 0;
    for (int64_t id : h->slot_ids) {
        if (id >= 0) out[j++] = id;
    }
}

cfaiss_status cfaiss_reconstruct(const cfaiss_index* h, int64_t id, float* out) {
    return guarded([&]() -> cfaiss_status {
        if (!h || !out) return fail(CFAISS_ERR_ARGUMENT, "null argument");
        auto it = h->slot_of.find(id);
        if (it == h->slot_of.end()) return fail(CFAISS_ERR_ARGUMENT, "unknown id " + std::to_string(id));
        h->index->reconstruct(faiss_idx(it->second), out);
        return CFAISS_OK;
    });
}

cfaiss_status cfaiss_serialize(const cfaiss_index* h, uint8_t** data, size_t* size) {
    return guarded([&]() -> cfaiss_status {
        if (!h || !data || !size) return fail(CFAISS_ERR_ARGUMENT, "null argument");
        *data = nullptr;
        *size = 0;
        faiss::VectorIOWriter writer;
        faiss::write_index(h->index.get(), &writer);
        std::vector<uint8_t> out;
        out.reserve(writer.data.size() + h->slot_ids.size() * 8 + 64 + h->factory.size());
        put_bytes(out, kBlobMagic, 8);
        put<int32_t>(out, h->kind);
        put<int32_t>(out, h->ef_construction);
        put<uint32_t>(out, uint32_t(h->factory.size()));
        put_bytes(out, h->factory.data(), h->factory.size());
        put<uint64_t>(out, h->slot_ids.size());
        put_bytes(out, h->slot_ids.data(), h->slot_ids.size() * sizeof(int64_t));
        put<uint64_t>(out, writer.data.size());
        put_bytes(out, writer.data.data(), writer.data.size());
        auto* buffer = static_cast<uint8_t*>(std::malloc(out.size()));
        if (!buffer) return fail(CFAISS_ERR_STD, "out of memory");
        std::memcpy(buffer, out.data(), out.size());
        *data = buffer;
        *size = out.size();
        return CFAISS_OK;
    });
}

cfaiss_status cfaiss_deserialize(const uint8_t* data, size_t size, cfaiss_index** out) {
    return guarded([&]() -> cfaiss_status {
        if (!data || !out) return fail(CFAISS_ERR_ARGUMENT, "null argument");
        *out = nullptr;
        Cursor c{data, size};
        char magic[8];
        if (!c.take(magic, 8) || std::memcmp(magic, kBlobMagic, 8) != 0) return fail(CFAISS_ERR_FORMAT, "not a cfaiss blob");
        auto h = std::make_unique<cfaiss_index>();
        uint32_t flen = 0;
        uint64_t nslots = 0, ilen = 0;
        if (!c.take(&h->kind, 4) || !c.take(&h->ef_construction, 4) || !c.take(&flen, 4) || flen > c.size - c.pos) {
            return fail(CFAISS_ERR_FORMAT, "truncated cfaiss blob header");
        }
        h->factory.assign(reinterpret_cast<const char*>(c.data + c.pos), flen);
        c.pos += flen;
        if (!c.take(&nslots, 8) || nslots > (c.size - c.pos) / 8) return fail(CFAISS_ERR_FORMAT, "truncated slot table");
        h->slot_ids.resize(nslots);
        c.take(h->slot_ids.data(), nslots * 8);
        if (!c.take(&ilen, 8) || ilen != c.size - c.pos) return fail(CFAISS_ERR_FORMAT, "truncated faiss payload");
        faiss::VectorIOReader reader;
        reader.data.assign(c.data + c.pos, c.data + c.size);
        h->index.reset(faiss::read_index(&reader));
        int32_t stored_kind = h->kind;
        prepare(h.get());
        if (stored_kind != h->kind) return fail(CFAISS_ERR_FORMAT, "index kind does not match its slot table");
        for (size_t s = 0; s < h->slot_ids.size(); s++) {
            if (h->slot_ids[s] >= 0) h->slot_of[h->slot_ids[s]] = int64_t(s);
        }
        faiss_idx stored = h->kind == CFAISS_KIND_IVF ? faiss_idx(h->slot_of.size()) : faiss_idx(h->slot_ids.size());
        if (h->index->ntotal != stored) return fail(CFAISS_ERR_FORMAT, "faiss index holds a different number of vectors than its id table");
        *out = h.release();
        return CFAISS_OK;
    });
}

void cfaiss_buffer_free(uint8_t* data) { std::free(data); }

cfaiss_status cfaiss_write(const cfaiss_index* h, const char* path) {
    uint8_t* data = nullptr;
    size_t size = 0;
    cfaiss_status st = cfaiss_serialize(h, &data, &size);
    if (st != CFAISS_OK) return st;
    return guarded([&]() -> cfaiss_status {
        std::unique_ptr<uint8_t, void (*)(uint8_t*)> hold(data, cfaiss_buffer_free);
        int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) return fail(CFAISS_ERR_IO, std::string("cannot open ") + path + ": " + std::strerror(errno));
        size_t done = 0;
        while (done < size) {
            ssize_t w = ::write(fd, data + done, size - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                int e = errno;
                ::close(fd);
                return fail(CFAISS_ERR_IO, std::string("cannot write ") + path + ": " + std::strerror(e));
            }
            done += size_t(w);
        }
        bool ok = ::fsync(fd) == 0;
        ok = (::close(fd) == 0) && ok;
        if (!ok) return fail(CFAISS_ERR_IO, std::string("cannot sync ") + path + ": " + std::strerror(errno));
        return CFAISS_OK;
    });
}

cfaiss_status cfaiss_read(const char* path, cfaiss_index** out) {
    std::vector<uint8_t> bytes;
    cfaiss_status st = guarded([&]() -> cfaiss_status {
        if (!path || !out) return fail(CFAISS_ERR_ARGUMENT, "null argument");
        FILE* f = std::fopen(path, "rb");
        if (!f) return fail(CFAISS_ERR_IO, std::string("cannot open ") + path + ": " + std::strerror(errno));
        uint8_t buf[1 << 16];
        size_t r;
        while ((r = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + r);
        bool bad = std::ferror(f) != 0;
        std::fclose(f);
        if (bad) return fail(CFAISS_ERR_IO, std::string("cannot read ") + path);
        return CFAISS_OK;
    });
    if (st != CFAISS_OK) return st;
    return cfaiss_deserialize(bytes.data(), bytes.size(), out);
}

cfaiss_status cfaiss_knn_exact(
    int32_t d, int64_t nq, const float* queries, int64_t nb, const float* base, int64_t k, float* distances,
    int64_t* labels) {
    return guarded([&]() -> cfaiss_status {
        if (d <= 0 || nq < 0 || nb < 0 || k <= 0 || (nq > 0 && (!queries || !distances || !labels)) || (nb > 0 && !base)) {
            return fail(CFAISS_ERR_ARGUMENT, "bad knn arguments");
        }
        faiss::knn_inner_product(queries, base, size_t(d), size_t(nq), size_t(nb), size_t(k), distances, labels);
        return CFAISS_OK;
    });
}

int32_t cfaiss_simd_best(void) { return cfaiss_fast::best_level(); }
int32_t cfaiss_simd_level(void) { return cfaiss_fast::current_level(); }
int32_t cfaiss_set_simd_level(int32_t level) { return cfaiss_fast::set_level(level); }
float cfaiss_hnsw_prune_headroom(void) { return cfaiss_fast::prune_headroom(); }
float cfaiss_set_hnsw_prune_headroom(float headroom) { return cfaiss_fast::set_prune_headroom(headroom); }

float cfaiss_inner_product(int32_t level, const float* x, const float* y, int64_t d) {
    if (!x || !y || d <= 0) return 0;
    return cfaiss_fast::kernel(level)(x, y, size_t(d));
}

int32_t cfaiss_uses_fast_storage(const cfaiss_index* h) { return h && cfaiss_fast::is_fast(h->index.get()) ? 1 : 0; }

uint64_t cfaiss_checksum(const void* data, size_t size) {
    // FNV-1a over 8-byte words, then the tail; good enough to catch torn or flipped bytes.
    const uint64_t prime = 0x100000001b3ULL;
    uint64_t hash = 0xcbf29ce484222325ULL ^ uint64_t(size);
    auto* p = static_cast<const uint8_t*>(data);
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        hash = (hash ^ w) * prime;
        hash ^= hash >> 29;
    }
    for (; i < size; i++) hash = (hash ^ p[i]) * prime;
    return hash;
}

}  // extern "C"
