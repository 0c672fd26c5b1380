"""Dense search: the vector index's exact and HNSW retrieval against a plain NumPy ranking, side by side in one run.

Vectors of a realistic shape: 384-d (all-MiniLM-L6-v2's), L2-normalised, drawn around 2,000 Gaussian cluster
centres so that neighbourhoods exist as in real embeddings (uniform random vectors in 384-d have none, and any
approximate index does badly on them); queries are drawn the same way. Measured:

* exact: ``index.retriever(k)`` on a frame of queries (validation, blocked search, the result frame and its ranks)
  against a plain ``Q @ V.T`` + ``np.argpartition`` + sort of the k over the same vectors held in memory; queries
  per second of each and their ratio, best of ``--repeats`` runs, interleaved; the two rankings compared;
* HNSW (FAISS ``IndexHNSWFlat``, M 32, ef_construction 200, built with the index): recall@10 against exact and
  queries per second at several ``ef_search``;
* memory of the exact search at two corpus sizes, each in its own process: the peak of Python/NumPy allocations
  (tracemalloc) and of the resident set (VmHWM, reset before the search) above what was there before it, for the
  index's retriever and for the plain NumPy ranking (whose score matrix grows with the corpus).

Single-threaded by default (``OMP_NUM_THREADS=1``, set before NumPy loads), on a shared machine: figures are
noisy, the ratios less so. The last line is JSON.

    PYTHONPATH=$PWD .venv/bin/python bench/dense_search.py                 # 100k documents, 1,000 queries
    PYTHONPATH=$PWD .venv/bin/python bench/dense_search.py --docs 20000     # a quick check
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

DIM = 384
MB = 2 ** 20


def clustered(n: int, seed: int, centres: int = 2000, spread: float = 0.6) -> np.ndarray:
    """``n`` normalised 384-d vectors around ``centres`` Gaussian cluster centres (the same centres for every seed)."""
    means = np.random.default_rng(12345).standard_normal((centres, DIM)).astype(np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 50_000):
        size = min(50_000, n - start)
        block = means[rng.integers(0, centres, size)] + spread * rng.standard_normal((size, DIM)).astype(np.float32)
        out[start:start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def query_frame(queries: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"qid": [f"q{i}" for i in range(len(queries))], "query_vec": list(queries)})


def numpy_top_k(queries: np.ndarray, docs: np.ndarray, k: int) -> np.ndarray:
    """The plain ranking: one matrix product, argpartition, the k sorted by score."""
    scores = queries @ docs.T
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def build(path: Path, docs: np.ndarray, hnsw: bool):
    from transformers_ir.indexes import VectorIndex

    stream = ({"docno": f"d{i}", "doc_vec": v} for i, v in enumerate(docs))
    start = time.perf_counter()
    index = VectorIndex(path).indexer(model_id="bench", hnsw=hnsw).index(stream)
    return index, time.perf_counter() - start


def _status(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_child(path: str, docs: int, queries: int, k: int, which: str) -> dict:
    """In its own process: peak memory of one exact search over the built index at ``path``."""
    import tracemalloc

    from transformers_ir.indexes import VectorIndex

    index = VectorIndex(path)
    frame = query_frame(clustered(queries, seed=99))
    matrix = np.stack(frame["query_vec"])
    vectors = np.array(index.vectors()) if which == "numpy" else None  # the plain way holds the matrix
    retriever = index.retriever(k)
    _ = index.docnos, index.docno_order()  # loaded once per index, O(corpus) but small: counted apart below
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM
    rss_before = _status("VmRSS")
    tracemalloc.start()
    if which == "numpy":
        numpy_top_k(matrix, vectors, k)
    else:
        retriever(frame)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"docs": docs, "which": which, "traced_peak_mb": round(traced / MB, 1),
            "rss_peak_growth_mb": round((_status("VmHWM") - rss_before) / MB, 1),
            "docnos_and_order_mb": round((index.docnos.nbytes + index.docno_order().nbytes) / MB, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=25_000, help="the smaller corpus of the memory comparison")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--memory-child", nargs=4, metavar=("PATH", "DOCS", "QUERIES", "WHICH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        path, docs, queries, which = args.memory_child
        print(json.dumps(memory_child(path, int(docs), int(queries), args.k, which)))
        return

    docs = clustered(args.docs, seed=1)
    queries = clustered(args.queries, seed=99)
    frame = query_frame(queries)
    with tempfile.TemporaryDirectory(prefix="dense-bench-") as tmp:
        index, build_s = build(Path(tmp) / "large", docs, hnsw=True)
        small, _ = build(Path(tmp) / "small", docs[:args.small], hnsw=False)
        print(f"built {args.docs:,} x {DIM} with HNSW in {build_s:.1f}s", flush=True)

        exact = index.retriever(args.k)
        times = {"index": [], "numpy": []}
        for _ in range(args.repeats):  # interleaved, so both see the same machine load
            start = time.perf_counter()
            ours = exact(frame)
            times["index"].append(time.perf_counter() - start)
            start = time.perf_counter()
            plain = numpy_top_k(queries, docs, args.k)
            times["numpy"].append(time.perf_counter() - start)
        ours_ids = ours.sort_values(["qid", "rank"]).groupby("qid", sort=False)["docno"].apply(list)
        plain_sets = {f"q{i}": {f"d{j}" for j in row} for i, row in enumerate(plain)}
        agree = float(np.mean([set(ours_ids[q]) == plain_sets[q] for q in plain_sets]))
        qps = {name: round(args.queries / min(t), 1) for name, t in times.items()}
        print(f"exact: index {qps['index']} q/s, numpy {qps['numpy']} q/s, same top-{args.k} for {agree:.3f} "
              f"of queries", flush=True)

        truth = {q: set(g) for q, g in ours.groupby("qid")["docno"]}
        hnsw = []
        for ef in args.ef_search:
            retriever = index.retriever(args.k, method="hnsw", ef_search=ef)
            retriever(frame.head(10))  # the graph is read on first use
            best = float("inf")
            for _ in range(args.repeats):
                start = time.perf_counter()
                found = retriever(frame)
                best = min(best, time.perf_counter() - start)
            recall = np.mean([len(truth[q] & set(g)) / args.k for q, g in found.groupby("qid")["docno"]])
            hnsw.append({"ef_search": ef, "recall_at_10": round(float(recall), 4),
                         "qps": round(args.queries / best, 1)})
            print(f"hnsw ef_search={ef}: recall@{args.k} {recall:.4f}, {hnsw[-1]['qps']} q/s", flush=True)

        memory = []
        for which in ("index", "numpy"):
            for path, size in ((small.path, args.small), (index.path, args.docs)):
                out = subprocess.run([sys.executable, __file__, "--k", str(args.k), "--memory-child", str(path),
                                      str(size), str(args.queries), which], capture_output=True, text=True,
                                     check=True, env=os.environ)
                memory.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"memory {which} at {size:,} docs: {memory[-1]}", flush=True)

    print(json.dumps({
        "docs": args.docs, "dim": DIM, "queries": args.queries, "k": args.k, "threads": os.environ["OMP_NUM_THREADS"],
        "build_with_hnsw_s": round(build_s, 1), "exact_qps": qps["index"], "numpy_qps": qps["numpy"],
        "exact_vs_numpy": round(qps["index"] / qps["numpy"], 3), "exact_same_top_k_as_numpy": agree,
        "hnsw": hnsw, "memory": memory,
    }))


if __name__ == "__main__":
    main()
