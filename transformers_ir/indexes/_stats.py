"""Efficiency statistics of a sparse first stage, in one helper: what the pipelines runner shows next to
effectiveness.

The expected FLOPS (Paria et al., 2020; SPLADE's regulariser) is the expected number of multiply-adds of one
query-document pair, the number of terms they share: ``mean over queries of sum_{t in q} df_t / N``.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable


def folder_bytes(path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


class QueryTermCounts:
    """What the query statistics need, kept as queries pass: how many queries, and for each term how many of them
    hold it (memory bounded by the vocabulary, not by the number of queries)."""

    def __init__(self, query_toks: Iterable[dict] = ()):
        self.queries = 0
        self.terms: Counter = Counter()
        self.add(query_toks)

    def add(self, query_toks: Iterable[dict]) -> None:
        for q in query_toks:
            self.queries += 1
            self.terms.update(t for t, w in q.items() if w)


def sparse_stats(index, query_toks: Iterable[dict] | QueryTermCounts | None = None) -> dict:
    """``docs, avg_doc_nnz, index_mb, build_s`` of a built :class:`SparseIndex`, and with queries
    (``{term: weight}`` dicts, or their :class:`QueryTermCounts`) ``queries, avg_query_nnz, flops``.

    Args:
        index: a built sparse index.
        query_toks: the queries' weights (optional).

    Returns:
        The statistics by name.
    """
    meta = index.metadata
    num_docs = int(meta["num_docs"])
    stats = {
        "docs": num_docs,
        "avg_doc_nnz": float(meta.get("avg_doc_nnz", float("nan"))),
        "index_mb": folder_bytes(index.path) / 2**20,
        "build_s": float(meta.get("build_seconds", float("nan"))),
    }
    if query_toks is not None:
        counts = query_toks if isinstance(query_toks, QueryTermCounts) else QueryTermCounts(query_toks)
        df = index.document_frequencies()
        n = max(counts.queries, 1)
        stats["queries"] = counts.queries
        stats["avg_query_nnz"] = sum(counts.terms.values()) / n
        stats["flops"] = sum(df.get(t, 0) * k for t, k in counts.terms.items()) / max(num_docs, 1) / n
    return stats
