#!/usr/bin/env python3
"""Kestrel's FAISS speed against PyPI's faiss-cpu, same vectors, same run.

    ~/refenv/bin/python scripts/bench-faiss-pypi.py [--count 100000] [--dim 512] [--queries 200]
        [--rounds 1] [--check-count 4000] [--threads N] [--bench .build/release/kestrel-bench]

Runs `kestrel-bench faiss-speed --json --write-vectors FILE` (Kestrel's side: its own seeded
vectors, written to FILE), then PyPI faiss-cpu on the vectors read back from FILE with the same
settings: IndexHNSWFlat(d, 32, inner product), efConstruction 80 (Kestrel's plan), its default prune
headroom (0.2 since faiss 1.14.2, as Kestrel's; --prune-headroom sets Kestrel's), efSearch 128,
k = 10, single queries (median); IndexFlatIP single queries (median). With --rounds R > 1 the two
sides alternate R times and the table shows medians. Prints a table and the ratios
Kestrel / faiss-cpu (below 1: Kestrel is faster). Needs numpy and faiss-cpu (measurement only;
tests never need Python). Build first: swift build -c release --product kestrel-bench.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import faiss


def median_single_queries(index, queries, k):
    index.search(queries[:1], k)  # warm-up
    times, hits = [], []
    for i in range(len(queries)):
        q = queries[i:i + 1]
        t0 = time.perf_counter()
        _, labels = index.search(q, k)
        times.append((time.perf_counter() - t0) * 1000)
        hits.append(labels[0])
    return statistics.median(times), hits


def run_pypi(base, queries, k, m, ef_construction, ef_search):
    d = base.shape[1]
    out = {"threads": faiss.omp_get_max_threads(), "version": faiss.__version__}
    flat = faiss.IndexFlatIP(d)
    flat.add(base)
    out["flat_query_ms"], truth = median_single_queries(flat, queries, k)
    hnsw = faiss.IndexHNSWFlat(d, m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = ef_construction
    out["prune_headroom"] = float(getattr(hnsw.hnsw, "prune_headroom", 0.0))  # 0.2 since faiss 1.14.2; absent before
    t0 = time.perf_counter()
    hnsw.add(base)
    out["hnsw_build_s"] = time.perf_counter() - t0
    hnsw.hnsw.efSearch = ef_search
    out["hnsw_query_ms"], hits = median_single_queries(hnsw, queries, k)
    found = sum(len(set(h) & set(t)) for h, t in zip(hits, truth))
    out["hnsw_recall_at_10"] = found / (len(queries) * k)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--check-count", type=int, default=4000,
                    help="vectors for Kestrel's FAISS-scalar vs SIMD check (0: skip)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="OpenMP threads on both sides (0: their default)")
    ap.add_argument("--prune-headroom", type=float, default=None,
                    help="HNSW prune headroom on Kestrel's side (default: Kestrel's, 0.2; 0 is FAISS 1.7.3's rule)")
    ap.add_argument("--bench", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release", "kestrel-bench"))
    a = ap.parse_args()

    k = 10
    if a.threads > 0:
        faiss.omp_set_num_threads(a.threads)
    kestrel_runs, pypi_runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "vectors.f32")
        for r in range(a.rounds):
            cmd = [a.bench, "faiss-speed", "--count", str(a.count), "--dim", str(a.dim), "--queries", str(a.queries),
                   "--seed", str(a.seed), "--check-count", str(a.check_count if r == 0 else 0),
                   "--threads", str(a.threads), "--write-vectors", path, "--json"]
            if a.prune_headroom is not None:
                cmd += ["--prune-headroom", str(a.prune_headroom)]
            print("round %d: %s" % (r + 1, " ".join(cmd)), file=sys.stderr, flush=True)
            done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
            kestrel = json.loads(done.stdout.strip().splitlines()[-1])
            kestrel_runs.append(kestrel)
            raw = np.fromfile(path, dtype="<f4")
            base = raw[:a.count * a.dim].reshape(a.count, a.dim)
            queries = raw[a.count * a.dim:].reshape(a.queries, a.dim)
            print("round %d: PyPI faiss-cpu %s" % (r + 1, faiss.__version__), file=sys.stderr, flush=True)
            pypi_runs.append(run_pypi(base, queries, k, 32, kestrel["ef_construction"], kestrel["ef_search"]))

    def med(runs, key):
        return statistics.median(run[key] for run in runs)

    first = kestrel_runs[0]
    print("FAISS speed: %d x %d random unit vectors, %d single queries, k=%d, %d round(s); "
          "Kestrel %s (distance code %s, %d threads), PyPI faiss-cpu %s (%d threads)"
          % (a.count, a.dim, a.queries, k, a.rounds, first["factory"], first["distance_code"], first["threads"],
             pypi_runs[0]["version"], pypi_runs[0]["threads"]))
    print()
    print("| what | Kestrel | faiss-cpu | Kestrel / faiss-cpu |")
    print("| --- | --- | --- | --- |")
    rows = [
        ("HNSW32 build, efConstruction %d, prune headroom %.2g / %.2g (s)"
         % (first["ef_construction"], first.get("hnsw_prune_headroom", 0.0), pypi_runs[0]["prune_headroom"]),
         "hnsw_build_s", "hnsw_build_s", 2),
        ("one Flat query (ms, median)", "flat_query_ms", "flat_query_ms", 3),
        ("one Flat query, Kestrel on 1 thread (ms)", "flat_query_ms_1thread", "flat_query_ms", 3),
        ("one HNSW query, efSearch %d (ms, median)" % first["ef_search"], "hnsw_query_ms", "hnsw_query_ms", 3),
    ]
    for label, kk, pk, digits in rows:
        x, y = med(kestrel_runs, kk), med(pypi_runs, pk)
        print("| %s | %.*f | %.*f | %.2fx |" % (label, digits, x, digits, y, x / y))
    print("| HNSW recall@10 vs Flat | %.4f | %.4f | |" % (med(kestrel_runs, "hnsw_recall_at_10"), med(pypi_runs, "hnsw_recall_at_10")))
    if "check_count" in first:
        c = first
        print()
        print("Kestrel, %d vectors, 1 thread, prune headroom 0: FAISS's own distance code against the shim's (%s)"
              % (c["check_count"], c["distance_code"]))
        print("| what | faiss | shim | speed-up |")
        print("| --- | --- | --- | --- |")
        for label, key in [("HNSW build (s)", "hnsw_build_s"), ("one Flat query (ms)", "flat_query_ms"), ("one HNSW query (ms)", "hnsw_query_ms")]:
            s, f = c["check_faiss_" + key], c["check_simd_" + key]
            print("| %s | %.3f | %.3f | %.1fx |" % (label, s, f, s / f))
        print("same ids in the same order: Flat %d/%d queries (largest score difference %.3g), HNSW %d/%d (%.3g)"
              % (c["check_flat_same_rows"], a.queries, c["check_flat_max_score_diff"],
                 c["check_hnsw_same_rows"], a.queries, c["check_hnsw_max_score_diff"]))


if __name__ == "__main__":
    main()
