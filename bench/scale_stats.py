"""The real SPLADE-tiny encodings of SciFact that bench/scale.py draws its simulated corpora from.

Encodes the SciFact corpus (title + abstract, 5,183 documents) and its queries (test + train) once with the real
``splade-tiny`` weights and caches both as CSR matrices over the model's vocabulary in
``$TRANSFORMERS_IR_HOME/bench/splade-tiny-scifact.npz`` (a few minutes on one core). The last line is JSON.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python bench/scale_stats.py
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402


def cache_file() -> Path:
    home = Path(os.environ.get("TRANSFORMERS_IR_HOME", Path.home() / ".cache" / "transformers-ir"))
    return home / "bench" / "splade-tiny-scifact.npz"


def load() -> dict:
    """``{"docs": csr, "queries": csr, "vocab": array}`` from the cache (encoding them first when missing)."""
    file = cache_file()
    if not file.is_file():
        encode(file)
    with np.load(file, allow_pickle=False) as z:
        docs = sp.csr_matrix((z["d_data"], z["d_indices"], z["d_indptr"]), shape=tuple(z["d_shape"]))
        queries = sp.csr_matrix((z["q_data"], z["q_indices"], z["q_indptr"]), shape=tuple(z["q_shape"]))
        return {"docs": docs, "queries": queries, "vocab": z["vocab"]}


def encode(file: Path) -> None:
    from transformers_ir.data import get_dataset
    from transformers_ir.splade import Splade

    model = Splade.from_pretrained("splade-tiny", batch_size=32)
    corpus = pd.DataFrame(get_dataset("irds:beir/scifact/test").get_corpus_iter(verbose=False))
    texts = (corpus["title"].fillna("") + " " + corpus["text"].fillna("")).str.strip().tolist()
    topics = pd.concat([get_dataset(f"irds:beir/scifact/{split}").get_topics() for split in ("test", "train")])
    start = time.perf_counter()
    docs = model.encode(texts, "doc", verbose=True).tocsr()
    queries = model.encode(topics["query"].tolist(), "query").tocsr()
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp.npz")
    np.savez(tmp, d_data=docs.data, d_indices=docs.indices, d_indptr=docs.indptr, d_shape=np.array(docs.shape),
             q_data=queries.data, q_indices=queries.indices, q_indptr=queries.indptr,
             q_shape=np.array(queries.shape), vocab=np.array(model.vocab, dtype=str))
    os.replace(tmp, file)
    print(f"encoded {docs.shape[0]} documents and {queries.shape[0]} queries in {time.perf_counter() - start:.0f}s")


def summary(stats: dict) -> dict:
    docs, queries = stats["docs"], stats["queries"]
    return {"docs": docs.shape[0], "queries": queries.shape[0], "vocab": docs.shape[1],
            "doc_nnz_mean": float(np.diff(docs.indptr).mean()), "query_nnz_mean": float(np.diff(queries.indptr).mean()),
            "doc_terms_used": int((np.bincount(docs.indices, minlength=docs.shape[1]) > 0).sum()),
            "doc_weight_mean": float(docs.data.mean()), "query_weight_mean": float(queries.data.mean())}


if __name__ == "__main__":
    print(json.dumps(summary(load())))
