"""Learned-sparse retrieval at scale: PISA, Seismic and brute force over simulated SPLADE corpora of 100k-1M+
documents. The last line is JSON.

No large SPLADE-encoded corpus is available offline, so the corpora are simulated from SPLADE-tiny's real SciFact
encodings (``bench/scale_stats.py``, cached): the same vocabulary; each document's number of non-zeros drawn from
the real documents'; its terms drawn without replacement with probabilities calibrated so that each term's
document frequency (as a fraction of the corpus) is the real one; each weight drawn from the real weights *of that
term* (so the weight histogram, overall and per term, is the real one). Terms are drawn independently of each other:
there is no topical co-occurrence, which makes a simulated corpus harder for Seismic's clustering than a real one
(its blocks group documents that share their strongest terms). The queries are the real SciFact queries (test +
train), encoded by SPLADE-tiny.

For each size: build time and index size of PISA (``PisaSparseIndex``, integer impacts at scale 100, exact top-k
of them) and Seismic (``SeismicSparseIndex``), both through our artifacts (documents streamed as ``{term: weight}``
dicts), and the queries per second (one thread, ``num_results=10``, through our retrievers) and recall@10 against
the exact float top-10 of brute force (scipy.sparse: the maths of ``ExactSparseIndex``, timed the same way, per
batch of queries). Seismic's search knobs are swept; the JSON reports the fastest setting at recall@10 >= 0.95.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python bench/scale.py --sizes 100000,1000000 --queries 1000
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scale_stats  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from transformers_ir.indexes import PisaSparseIndex, SeismicSparseIndex, csr_to_toks, toks_matrix  # noqa: E402

K = 10
GOAL_RECALL = 0.95


def log(*args) -> None:
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Simulator:
    """Documents drawn from the real encodings' per-document non-zeros, per-term document frequencies and per-term
    weights (see the module's docstring)."""

    def __init__(self, docs: sp.csr_matrix, seed: int):
        self.rng = np.random.default_rng(seed)
        self.vocab = docs.shape[1]
        self.nnz = np.diff(docs.indptr)
        self.nnz = self.nnz[self.nnz > 0]
        csc = docs.tocsc()
        csc.sort_indices()
        self.col_ptr, self.col_data = csc.indptr, csc.data.astype(np.float32)
        df = np.diff(csc.indptr).astype(np.float64)
        self.target = df / docs.shape[0]  # each term's document frequency, as a fraction of the corpus
        self.weights = df.copy()
        for _ in range(8):  # calibrate the draw so that the inclusion probabilities meet the targets
            got = np.bincount(self.sample(20_000).indices, minlength=self.vocab) / 20_000
            used = self.target > 0
            ratio = np.where(got[used] > 0, self.target[used] / np.maximum(got[used], 1e-12), 2.0)
            self.weights[used] *= np.clip(ratio, 0.2, 5.0)
        self.cdf = None

    def sample(self, n: int) -> sp.csr_matrix:
        """``n`` simulated documents, CSR over the vocabulary (float32, sorted terms)."""
        cdf = np.cumsum(self.weights)
        cdf /= cdf[-1]
        k = self.rng.choice(self.nnz, size=n)
        draws = 2 * k + 8
        doc = np.repeat(np.arange(n, dtype=np.int64), draws)
        terms = np.minimum(np.searchsorted(cdf, self.rng.random(doc.shape[0])), self.vocab - 1)
        key = doc * self.vocab + terms
        uniq, first = np.unique(key, return_index=True)  # sorted by (doc, term)
        order = np.lexsort((first, uniq // self.vocab))  # by doc, then draw order
        udoc = (uniq // self.vocab)[order]
        starts = np.searchsorted(udoc, np.arange(n))
        rank = np.arange(len(udoc)) - starts[udoc]
        keep = order[rank < k[udoc]]
        keep.sort()  # back to (doc, term) order
        rows, cols = uniq[keep] // self.vocab, uniq[keep] % self.vocab
        lo, hi = self.col_ptr[cols], self.col_ptr[cols + 1]
        data = self.col_data[lo + (self.rng.random(len(cols)) * (hi - lo)).astype(np.int64)]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        return sp.csr_matrix((data, cols.astype(np.int32), indptr), shape=(n, self.vocab))

    def corpus(self, n: int, batch: int = 50_000) -> sp.csr_matrix:
        return sp.vstack([self.sample(min(batch, n - i)) for i in range(0, n, batch)], format="csr")


class NumpyPisaSparseIndex(PisaSparseIndex):
    """``PisaSparseIndex`` whose inversion is numpy, not pyterrier-pisa's Python loop over postings (about 40k
    postings a second on this shared machine: a 1M-document SPLADE corpus, 250M postings, would take hours). It
    writes the files pyterrier-pisa's ``toks_indexer`` writes (forward lexicons, ``inv.docs`` / ``inv.freqs`` /
    ``inv.sizes`` with terms in sorted order, the binary lexicons); PISA compresses them on first retrieval, as it
    does for the library's build. :func:`check_numpy_pisa` proves the two builds retrieve the same results."""

    def _write_pisa(self, folder: Path, docs) -> int:
        from pyterrier_pisa import _pisathon

        folder.mkdir(parents=True, exist_ok=True)
        names, lexicon, parts, batch = [], {}, [], []
        for doc in docs:
            names.append(doc["docno"])
            batch.append(doc["toks"])
            if len(batch) == 10_000:
                parts.append(toks_matrix(batch, lexicon, grow=True, where="toks"))
                batch = []
        if batch:
            parts.append(toks_matrix(batch, lexicon, grow=True, where="toks"))
        width = len(lexicon)
        matrix = sp.vstack([sp.csr_matrix(p, shape=(p.shape[0], width)) for p in parts], format="csr")
        del parts
        n = matrix.shape[0]
        terms = np.array(list(lexicon), dtype=object)
        order = np.argsort(terms.astype(str), kind="stable")  # pyterrier-pisa writes terms in sorted order
        lens = np.asarray(matrix.sum(axis=1)).ravel().astype(np.uint32)
        csc = matrix[:, order].tocsc()
        del matrix
        csc.sort_indices()
        counts = np.diff(csc.indptr).astype(np.uint32)
        where = csc.indptr[:-1] + np.arange(width)  # each list's length word, in lists of [len, values...]
        docs_out = np.empty(width + csc.nnz, dtype=np.uint32)
        freqs_out = np.empty(width + csc.nnz, dtype=np.uint32)
        is_len = np.zeros(width + csc.nnz, dtype=bool)
        is_len[where] = True
        docs_out[where] = counts
        freqs_out[where] = counts
        docs_out[~is_len] = csc.indices.astype(np.uint32)
        freqs_out[~is_len] = np.rint(csc.data).astype(np.uint32)
        with open(folder / "inv.docs", "wb") as f:
            f.write(np.array([1, n], dtype=np.uint32).tobytes())
            f.write(docs_out.tobytes())
        (folder / "inv.freqs").write_bytes(freqs_out.tobytes())
        (folder / "inv.sizes").write_bytes(np.concatenate([[n], lens]).astype(np.uint32).tobytes())
        (folder / "fwd.documents").write_text("".join(f"{d}\n" for d in names))
        (folder / "fwd.terms").write_text("".join(f"{t}\n" for t in terms[order]))
        _pisathon.build_binlex(str(folder / "fwd.documents"), str(folder / "fwd.doclex"))
        _pisathon.build_binlex(str(folder / "fwd.terms"), str(folder / "fwd.termlex"))
        (folder / "pt_meta.json").write_text(json.dumps({"type": "sparse_index", "format": "pisa",
                                                         "package_hint": "pyterrier-pisa", "stemmer": "none"}))
        return n


def check_numpy_pisa(sim: Simulator, vocab, frame: pd.DataFrame, root: Path) -> int:
    """The numpy-inverted PISA index retrieves exactly what the library's build does (3,000 documents)."""
    docs = sim.corpus(3_000)
    ours = NumpyPisaSparseIndex(root / "check-numpy")
    ours.build(doc_stream(docs, vocab))
    lib = PisaSparseIndex(root / "check-lib")
    lib.build(doc_stream(docs, vocab))
    a = ours.retriever(num_results=K)(frame.head(200))[["qid", "docno", "score", "rank"]]
    b = lib.retriever(num_results=K)(frame.head(200))[["qid", "docno", "score", "rank"]]
    pd.testing.assert_frame_equal(a, b)
    return len(a)


def docnos(n: int) -> np.ndarray:
    return np.array([f"d{i:08d}" for i in range(n)], dtype=object)


def doc_stream(docs: sp.csr_matrix, vocab: np.ndarray, batch: int = 10_000):
    names = docnos(docs.shape[0])
    for start in range(0, docs.shape[0], batch):
        for docno, toks in zip(names[start:start + batch], csr_to_toks(docs[start:start + batch], vocab)):
            yield {"docno": docno, "toks": toks}


def brute_force(docs: sp.csr_matrix, queries: sp.csr_matrix, batch: int = 20) -> tuple[list[np.ndarray], float]:
    """The exact float top-K doc ids of each query and the queries per second of computing them."""
    doc_t = docs.T.tocsr()
    tops = []
    start = time.perf_counter()
    for a in range(0, queries.shape[0], batch):
        scores = (queries[a:a + batch] @ doc_t).tocsr()
        for r in range(scores.shape[0]):
            lo, hi = scores.indptr[r], scores.indptr[r + 1]
            ids, vals = scores.indices[lo:hi], scores.data[lo:hi]
            if len(vals) > K:
                best = np.argpartition(-vals, K)[:K]
                ids, vals = ids[best], vals[best]
            tops.append(ids[np.argsort(-vals, kind="stable")])
    seconds = time.perf_counter() - start
    return tops, queries.shape[0] / seconds


def recall(results: pd.DataFrame, exact: list[np.ndarray]) -> float:
    got = results.groupby("qid")["docno"].apply(set).to_dict()
    values = []
    for q, ids in enumerate(exact):
        if len(ids) == 0:
            continue
        want = {f"d{i:08d}" for i in ids}
        values.append(len(want & got.get(str(q), set())) / len(want))
    return float(np.mean(values))


def timed_retrieval(retriever, frame: pd.DataFrame, batch: int = 100) -> tuple[pd.DataFrame, float]:
    start = time.perf_counter()
    parts = [retriever(frame.iloc[a:a + batch]) for a in range(0, len(frame), batch)]
    seconds = time.perf_counter() - start
    return pd.concat(parts, ignore_index=True), len(frame) / seconds


def build(index, docs, vocab) -> dict:
    start = time.perf_counter()
    index.build(doc_stream(docs, vocab))
    seconds = time.perf_counter() - start
    size = sum(f.stat().st_size for f in index.path.rglob("*") if f.is_file())
    return {"build_s": round(seconds, 1), "index_mb": round(size / 2**20, 1)}


def run_size(n: int, sim: Simulator, vocab, queries: sp.csr_matrix, frame: pd.DataFrame, root: Path,
             args) -> dict:
    out: dict = {"docs": n}
    t = time.perf_counter()
    docs = sim.corpus(n)
    out["simulate_s"] = round(time.perf_counter() - t, 1)
    out["doc_nnz"] = round(docs.nnz / n, 1)
    log(f"{n} docs simulated ({docs.nnz} postings, {out['simulate_s']}s, rss {rss_mb():.0f} MB)")
    exact, qps = brute_force(docs, queries)
    out["bruteforce"] = {"qps": round(qps, 2), "recall@10": 1.0}
    log(f"brute force: {qps:.2f} q/s (rss {rss_mb():.0f} MB)")
    gc.collect()

    pisa = NumpyPisaSparseIndex(root / f"pisa-{n}")
    out["pisa"] = build(pisa, docs, vocab)
    retriever = pisa.retriever(num_results=K)
    t = time.perf_counter()
    retriever(frame.head(1))  # PISA compresses the index and builds its WAND data on first use: build time
    out["pisa"]["build_s"] = round(out["pisa"]["build_s"] + time.perf_counter() - t, 1)
    out["pisa"]["index_mb"] = round(sum(f.stat().st_size for f in pisa.path.rglob("*") if f.is_file()) / 2**20, 1)
    log(f"pisa built: {out['pisa']} (rss {rss_mb():.0f} MB)")
    results, qps = timed_retrieval(retriever, frame)
    out["pisa"].update(qps=round(qps, 2), **{"recall@10": round(recall(results, exact), 4)})
    log(f"pisa: {out['pisa']}")
    del pisa, results
    shutil.rmtree(root / f"pisa-{n}", ignore_errors=True)
    gc.collect()

    out["seismic"] = []
    for n_postings in args.n_postings:
        seismic = SeismicSparseIndex(root / f"seismic-{n}-{n_postings}", n_postings=n_postings)
        built = build(seismic, docs, vocab)
        log(f"seismic n_postings={n_postings} built: {built} (rss {rss_mb():.0f} MB)")
        for query_cut in args.query_cuts:
            for heap_factor in args.heap_factors:
                retriever = seismic.retriever(num_results=K, query_cut=query_cut, heap_factor=heap_factor)
                retriever(frame.head(1))  # loads the index
                results, qps = timed_retrieval(retriever, frame)
                row = {"n_postings": n_postings, "query_cut": query_cut, "heap_factor": heap_factor, **built,
                       "qps": round(qps, 2), "recall@10": round(recall(results, exact), 4)}
                out["seismic"].append(row)
                log(f"seismic: {row}")
        del seismic
        shutil.rmtree(root / f"seismic-{n}-{n_postings}", ignore_errors=True)
        gc.collect()
    good = [r for r in out["seismic"] if r["recall@10"] >= GOAL_RECALL]
    out["seismic_best"] = max(good, key=lambda r: r["qps"]) if good else None
    if good:
        out["seismic_over_pisa_qps"] = round(out["seismic_best"]["qps"] / out["pisa"]["qps"], 2)
    out["pisa_over_bruteforce_qps"] = round(out["pisa"]["qps"] / out["bruteforce"]["qps"], 2)
    if good:
        out["seismic_over_bruteforce_qps"] = round(out["seismic_best"]["qps"] / out["bruteforce"]["qps"], 2)
    out["peak_rss_mb"] = round(peak_rss_mb())
    del docs
    gc.collect()
    return out


def peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--n-postings", default="2000")
    parser.add_argument("--query-cuts", default="5,10,20")
    parser.add_argument("--heap-factors", default="0.7,0.8,0.9,1.0")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", default=None, help="folder for the indexes (default: a temporary one)")
    args = parser.parse_args()
    args.n_postings = [int(x) for x in args.n_postings.split(",")]
    args.query_cuts = [int(x) for x in args.query_cuts.split(",")]
    args.heap_factors = [float(x) for x in args.heap_factors.split(",")]

    stats = scale_stats.load()
    vocab = np.asarray(stats["vocab"], dtype=object)
    queries = stats["queries"]
    queries = queries[np.diff(queries.indptr) > 0][:args.queries]
    frame = pd.DataFrame({"qid": [str(i) for i in range(queries.shape[0])],
                          "query_toks": csr_to_toks(queries, vocab)})
    log(f"real encodings: {scale_stats.summary(stats)}; {queries.shape[0]} queries")
    t = time.perf_counter()
    sim = Simulator(stats["docs"], args.seed)
    check = sim.corpus(20_000)
    real_df = sim.target
    sim_df = np.bincount(check.indices, minlength=sim.vocab) / check.shape[0]
    fidelity = {"calibrate_s": round(time.perf_counter() - t, 1),
                "doc_nnz_real": round(float(sim.nnz.mean()), 1), "doc_nnz_sim": round(check.nnz / check.shape[0], 1),
                "df_abs_err_max": round(float(np.abs(real_df - sim_df).max()), 4),
                "weight_mean_real": round(float(stats["docs"].data.mean()), 4),
                "weight_mean_sim": round(float(check.data.mean()), 4)}
    log(f"simulator: {fidelity}")
    root = Path(args.root) if args.root else Path(tempfile.mkdtemp(prefix="scale-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    sizes = []
    try:
        log(f"numpy-inverted PISA equals the library's build: {check_numpy_pisa(sim, vocab, frame, root)} rows")
        for n in [int(x) for x in args.sizes.split(",")]:
            sizes.append(run_size(n, sim, vocab, queries, frame, root, args))
            log(json.dumps(sizes[-1]))
    finally:
        if not args.root:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps({"bench": "scale", "queries": queries.shape[0], "simulator": fidelity, "sizes": sizes}))


if __name__ == "__main__":
    main()
