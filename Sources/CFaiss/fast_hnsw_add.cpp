// fast_hnsw_add.cpp: HNSW graph construction for IndexHNSW over the shim's fast flat storage.
//
// A port of FAISS 1.7.3's hnsw_add_vertices / HNSW::add_with_locks and their helpers
// (faiss/IndexHNSW.cpp, faiss/impl/HNSW.cpp, MIT licence, Facebook, Inc. and its affiliates),
// same algorithm, same order of decisions, same level assignment and insertion order, writing
// the same faiss::HNSW members (so files are FAISS's format). What changes: distances run on the
// shim's SIMD kernels, four candidates at a time where the loop allows it (a row's sum is the
// same with or without batching, so the decisions equal a one-at-a-time walk over the same
// distance values; later FAISS versions batch the same way), and the OpenMP region goes through
// libgomp directly (see fast_flat.cpp). Distances are negated inner products, as FAISS's
// NegativeDistanceComputer gives them, so the graph equals FAISS's own when distances agree.
//
// One decision is FAISS's later one, not 1.7.3's: HNSW::prune_headroom (FAISS 1.14.2,
// facebookresearch/faiss#4847, default 0.2). When a full neighbour list takes a reverse link,
// 1.7.3 prunes it back to its capacity, so the next reverse link prunes it again (an O(M^2)
// set of distances each time; on 30,000 x 512 random vectors that was 83% of all distances);
// with headroom h the list is pruned to capacity - capacity * h, leaving room for the next few
// links without pruning. prune_headroom() == 0 gives 1.7.3's graph exactly (the tests compare it
// with FAISS's own build); the default is FAISS's, 0.2. Unlike FAISS, lists of fewer than 16
// slots (HNSW M < 8 at level 0) always prune to capacity: there the pruning is cheap and the
// headroom cost recall (a tryout measured HNSW2 and HNSW4 0.03-0.05 lower).
#include "fast_flat.h"

#include <faiss/IndexHNSW.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/FaissAssert.h>
#include <faiss/impl/HNSW.h>
#include <faiss/utils/random.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <queue>
#include <vector>

extern "C" void GOMP_parallel(void (*fn)(void*), void* data, unsigned num_threads, unsigned flags);

namespace cfaiss_fast {

namespace {
std::atomic<float> g_prune_headroom{0.2f};
/// Neighbour lists shorter than this (HNSW M < 8 at level 0, M < 16 above) keep FAISS 1.7.3's rule.
constexpr size_t kMinHeadroomList = 16;
}

float prune_headroom() { return g_prune_headroom.load(); }

float set_prune_headroom(float headroom) {
    g_prune_headroom.store(headroom >= 0.0f ? std::min(headroom, 0.5f) : 0.0f);  // NaN gives 0
    return g_prune_headroom.load();
}

namespace {

using faiss::HNSW;
using storage_idx_t = HNSW::storage_idx_t;
using NodeDistCloser = HNSW::NodeDistCloser;
using NodeDistFarther = HNSW::NodeDistFarther;

/// Negated inner products against one query row or between stored rows.
struct Dist {
    const float* xb;
    size_t d;
    const float* q = nullptr;
    InnerProduct ip;
    InnerProduct4 ip4;

    float operator()(storage_idx_t i) const { return -ip(q, xb + size_t(i) * d, d); }
    float symmetric(storage_idx_t i, storage_idx_t j) const { return -ip(xb + size_t(j) * d, xb + size_t(i) * d, d); }
    /// out[r] = distance of the query to rows ids[r], r < 4.
    void four(const storage_idx_t* ids, float* out) const {
        ip4(q, xb + size_t(ids[0]) * d, xb + size_t(ids[1]) * d, xb + size_t(ids[2]) * d, xb + size_t(ids[3]) * d, d, out);
        for (int r = 0; r < 4; r++) out[r] = -out[r];
    }
    /// four() for the first cnt (1...4) of ids; the rest of the batch repeats ids[0].
    void some(const storage_idx_t* ids, int cnt, float* out) const {
        storage_idx_t padded[4] = {ids[0], ids[0], ids[0], ids[0]};
        for (int r = 0; r < cnt; r++) padded[r] = ids[r];
        four(padded, out);
    }
    /// out[r] = symmetric(src, ids[r]) (FAISS computes symmetric_dis(src, neigh) as <x_neigh, x_src>).
    void four_from(storage_idx_t src, const storage_idx_t* ids, float* out) const {
        const float* s = xb + size_t(src) * d;
        ip4(s, xb + size_t(ids[0]) * d, xb + size_t(ids[1]) * d, xb + size_t(ids[2]) * d, xb + size_t(ids[3]) * d, d, out);
        for (int r = 0; r < 4; r++) out[r] = -out[r];
    }
};

/// HNSW::shrink_neighbor_list: keep a candidate only if no kept one is closer to it than the query.
void shrink_list(const Dist& dis, std::priority_queue<NodeDistFarther>& input, std::vector<NodeDistFarther>& output,
                 int max_size) {
    while (!input.empty()) {
        NodeDistFarther v1 = input.top();
        input.pop();
        float dist_v1_q = v1.d;
        // symmetric(v2, v1) for the kept v2 in order, four at a time (the query row is v1's).
        bool good = true;
        for (size_t j = 0; good && j < output.size(); j += 4) {
            storage_idx_t ids[4];
            int cnt = int(std::min<size_t>(4, output.size() - j));
            for (int r = 0; r < 4; r++) ids[r] = output[j + size_t(std::min(r, cnt - 1))].id;
            float four[4];
            dis.four_from(v1.id, ids, four);
            for (int r = 0; r < cnt; r++) {
                if (four[r] < dist_v1_q) {
                    good = false;
                    break;
                }
            }
        }
        if (good) {
            output.push_back(v1);
            if (output.size() >= size_t(max_size)) return;
        }
    }
}

void shrink_closer(const Dist& dis, std::priority_queue<NodeDistCloser>& result_set1, int max_size) {
    if (result_set1.size() < size_t(max_size)) return;
    std::priority_queue<NodeDistFarther> result_set;
    std::vector<NodeDistFarther> kept;
    while (!result_set1.empty()) {
        result_set.emplace(result_set1.top().d, result_set1.top().id);
        result_set1.pop();
    }
    shrink_list(dis, result_set, kept, max_size);
    for (const NodeDistFarther& v : kept) result_set1.emplace(v.d, v.id);
}

void add_link(HNSW& hnsw, const Dist& dis, storage_idx_t src, storage_idx_t dest, int level, float headroom) {
    size_t begin, end;
    hnsw.neighbor_range(src, level, &begin, &end);
    if (hnsw.neighbors[end - 1] == -1) {
        size_t i = end;
        while (i > begin) {
            if (hnsw.neighbors[i - 1] != -1) break;
            i--;
        }
        hnsw.neighbors[i] = dest;
        return;
    }
    std::priority_queue<NodeDistCloser> result_set;
    result_set.emplace(dis.symmetric(src, dest), dest);
    size_t i = begin;
    float four[4];
    for (; i + 4 <= end; i += 4) {
        dis.four_from(src, &hnsw.neighbors[i], four);
        for (int r = 0; r < 4; r++) result_set.emplace(four[r], hnsw.neighbors[i + r]);
    }
    for (; i < end; i++) {
        storage_idx_t neigh = hnsw.neighbors[i];
        result_set.emplace(dis.symmetric(src, neigh), neigh);
    }
    // FAISS's arithmetic: size_t -= size_t * float (the product and difference in float, truncated).
    // Only lists of kMinHeadroomList slots or more: a short list prunes cheaply anyway, and
    // leaving a fifth of it empty costs recall (HNSW2 / HNSW4 on 7,000 x 16 lost 0.03-0.05).
    size_t max_size = end - begin;
    if (max_size >= kMinHeadroomList) max_size -= max_size * headroom;
    shrink_closer(dis, result_set, int(max_size));
    i = begin;
    while (!result_set.empty()) {
        hnsw.neighbors[i++] = result_set.top().id;
        result_set.pop();
    }
    while (i < end) hnsw.neighbors[i++] = -1;
}

void search_neighbors_to_add(HNSW& hnsw, const Dist& dis, std::priority_queue<NodeDistCloser>& results,
                             int entry_point, float d_entry_point, int level, faiss::VisitedTable& vt) {
    std::priority_queue<NodeDistFarther> candidates;
    candidates.emplace(d_entry_point, entry_point);
    results.emplace(d_entry_point, entry_point);
    vt.set(entry_point);
    auto consider = [&](storage_idx_t node, float d) {
        if (results.size() < size_t(hnsw.efConstruction) || results.top().d > d) {
            results.emplace(d, node);
            candidates.emplace(d, node);
            if (results.size() > size_t(hnsw.efConstruction)) results.pop();
        }
    };
    while (!candidates.empty()) {
        const NodeDistFarther& curr = candidates.top();
        if (curr.d > results.top().d) break;
        int curr_node = curr.id;
        candidates.pop();
        size_t begin, end;
        hnsw.neighbor_range(curr_node, level, &begin, &end);
        // Unvisited neighbours, in list order, four at a time.
        storage_idx_t batch[4];
        int nb = 0;
        float four[4];
        for (size_t i = begin; i < end; i++) {
            storage_idx_t node = hnsw.neighbors[i];
            if (node < 0) break;
            if (vt.get(node)) continue;
            vt.set(node);
            batch[nb++] = node;
            if (nb == 4) {
                dis.four(batch, four);
                for (int r = 0; r < 4; r++) consider(batch[r], four[r]);
                nb = 0;
            }
        }
        if (nb > 0) {
            dis.some(batch, nb, four);
            for (int r = 0; r < nb; r++) consider(batch[r], four[r]);
        }
    }
    vt.advance();
}

void greedy_update_nearest(const HNSW& hnsw, const Dist& dis, int level, storage_idx_t& nearest, float& d_nearest) {
    for (;;) {
        storage_idx_t prev_nearest = nearest;
        size_t begin, end;
        hnsw.neighbor_range(nearest, level, &begin, &end);
        storage_idx_t batch[4];
        int nb = 0;
        float four[4];
        auto consider = [&](storage_idx_t v, float d) {
            if (d < d_nearest) {
                nearest = v;
                d_nearest = d;
            }
        };
        for (size_t i = begin; i < end; i++) {
            storage_idx_t v = hnsw.neighbors[i];
            if (v < 0) break;
            batch[nb++] = v;
            if (nb == 4) {
                dis.four(batch, four);
                for (int r = 0; r < 4; r++) consider(batch[r], four[r]);
                nb = 0;
            }
        }
        if (nb > 0) {
            dis.some(batch, nb, four);
            for (int r = 0; r < nb; r++) consider(batch[r], four[r]);
        }
        if (nearest == prev_nearest) return;
    }
}

void add_links_starting_from(HNSW& hnsw, const Dist& dis, storage_idx_t pt_id, storage_idx_t nearest, float d_nearest,
                             int level, omp_lock_t* locks, faiss::VisitedTable& vt, float headroom) {
    std::priority_queue<NodeDistCloser> link_targets;
    search_neighbors_to_add(hnsw, dis, link_targets, nearest, d_nearest, level, vt);
    int M = hnsw.nb_neighbors(level);
    shrink_closer(dis, link_targets, M);
    std::vector<storage_idx_t> neighbors;
    neighbors.reserve(link_targets.size());
    while (!link_targets.empty()) {
        storage_idx_t other_id = link_targets.top().id;
        add_link(hnsw, dis, pt_id, other_id, level, headroom);
        neighbors.push_back(other_id);
        link_targets.pop();
    }
    omp_unset_lock(&locks[pt_id]);
    for (storage_idx_t other_id : neighbors) {
        omp_set_lock(&locks[other_id]);
        add_link(hnsw, dis, other_id, pt_id, level, headroom);
        omp_unset_lock(&locks[other_id]);
    }
    omp_set_lock(&locks[pt_id]);
}

void add_with_locks(HNSW& hnsw, const Dist& dis, int pt_level, int pt_id, std::vector<omp_lock_t>& locks,
                    faiss::VisitedTable& vt, std::mutex& entry, float headroom) {
    storage_idx_t nearest;
    {
        std::lock_guard<std::mutex> hold(entry);
        nearest = hnsw.entry_point;
        if (nearest == -1) {
            hnsw.max_level = pt_level;
            hnsw.entry_point = pt_id;
        }
    }
    if (nearest < 0) return;
    omp_set_lock(&locks[pt_id]);
    int level = hnsw.max_level;
    float d_nearest = dis(nearest);
    for (; level > pt_level; level--) greedy_update_nearest(hnsw, dis, level, nearest, d_nearest);
    for (; level >= 0; level--) add_links_starting_from(hnsw, dis, pt_id, nearest, d_nearest, level, locks.data(), vt, headroom);
    omp_unset_lock(&locks[pt_id]);
    if (pt_level > hnsw.max_level) {
        hnsw.max_level = pt_level;
        hnsw.entry_point = pt_id;
    }
}

/// hnsw_add_vertices of FAISS 1.7.3: levels, buckets by level (highest first), a fixed
/// shuffle inside each level, then a static split of each level's points over the threads.
void add_vertices(faiss::IndexHNSW& index, const float* xb, size_t n0, size_t n, int level_code) {
    HNSW& hnsw = index.hnsw;
    size_t ntotal = n0 + n;
    if (n == 0) return;
    hnsw.prepare_level_tab(n, hnsw.levels.size() == ntotal);

    std::vector<omp_lock_t> locks(ntotal);
    for (auto& lock : locks) omp_init_lock(&lock);
    std::vector<int> hist;
    std::vector<int> order(n);
    for (size_t i = 0; i < n; i++) {
        int pt_level = hnsw.levels[i + n0] - 1;
        while (pt_level >= int(hist.size())) hist.push_back(0);
        hist[pt_level]++;
    }
    std::vector<int> offsets(hist.size() + 1, 0);
    for (size_t i = 0; i + 1 < hist.size(); i++) offsets[i + 1] = offsets[i] + hist[i];
    for (size_t i = 0; i < n; i++) {
        storage_idx_t pt_id = storage_idx_t(i + n0);
        int pt_level = hnsw.levels[pt_id] - 1;
        order[offsets[pt_level]++] = pt_id;
    }

    std::mutex entry;
    const float headroom = prune_headroom();  // one value for the whole add
    faiss::RandomGenerator rng2(789);
    int i1 = int(n);
    int threads = std::max(omp_get_max_threads(), 1);
    for (int pt_level = int(hist.size()) - 1; pt_level >= 0; pt_level--) {
        int i0 = i1 - hist[pt_level];
        for (int j = i0; j < i1; j++) std::swap(order[j], order[j + rng2.rand_int(i1 - j)]);
        int team = i1 > i0 + 100 ? threads : 1;
        struct Context {
            HNSW* hnsw;
            const float* xb;
            size_t d, ntotal;
            int level_code, pt_level, i0, i1, team;
            float headroom;
            const std::vector<int>* order;
            std::vector<omp_lock_t>* locks;
            std::mutex* entry;
            std::atomic<int> next{0};
        } c{&hnsw, xb, size_t(index.d), ntotal, level_code, pt_level, i0, i1, team, headroom, &order, &locks, &entry};
        auto body = [](void* raw) {
            auto* c = static_cast<Context*>(raw);
            faiss::VisitedTable vt(int(c->ntotal));
            Dist dis{c->xb, c->d, nullptr, kernel(c->level_code), kernel4(c->level_code)};
            // schedule(static): part t gets the t-th contiguous share of [i0, i1).
            int span = c->i1 - c->i0;
            for (int t = c->next.fetch_add(1); t < c->team; t = c->next.fetch_add(1)) {
                int a = c->i0 + int(int64_t(span) * t / c->team), b = c->i0 + int(int64_t(span) * (t + 1) / c->team);
                for (int i = a; i < b; i++) {
                    storage_idx_t pt_id = (*c->order)[i];
                    dis.q = c->xb + size_t(pt_id) * c->d;
                    add_with_locks(*c->hnsw, dis, c->pt_level, pt_id, *c->locks, vt, *c->entry, c->headroom);
                }
            }
        };
        if (team > 1) {
            GOMP_parallel(body, &c, unsigned(team), 0);
        } else {
            body(&c);
        }
        i1 = i0;
    }
    for (auto& lock : locks) omp_destroy_lock(&lock);
}

}  // namespace

bool fast_hnsw_add(faiss::Index* index, faiss::Index::idx_t n, const float* x) {
    auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(index);
    int level = current_level();
    if (!hnsw || level == kFaiss || !hnsw->storage || !is_fast(hnsw)) return false;
    if (hnsw->reconstruct_from_neighbors) return false;
    FAISS_THROW_IF_NOT(hnsw->is_trained);
    size_t n0 = size_t(hnsw->ntotal);
    hnsw->storage->add(n, x);
    hnsw->ntotal = hnsw->storage->ntotal;
    const float* xb = reinterpret_cast<const float*>(flat_codes(hnsw->storage));
    add_vertices(*hnsw, xb, n0, size_t(n), level);
    return true;
}

}  // namespace cfaiss_fast
