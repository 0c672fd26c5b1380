"""Efficiency next to effectiveness: time per stage, and for sparse (SPLADE) systems the non-zeros.

Each stage of each system gets a :class:`StageTiming`. A stage reused from an earlier system of the same run
(same stages before it, same parameters) is ``shared`` and carries the seconds it took when it was computed;
a stage served from a disk cache carries the seconds the lookup took, with the rows it computed and those it
read from the cache, so a second run of a pipeline file shows it scored nothing.

Sparsity comes from the frames (``query_toks``: terms per query; ``toks``: terms per document) and from any
transformer of the system that offers ``sparsity_stats(frames=None) -> {"query_nnz": ..., "doc_nnz": ...}``
(an index knows its documents' non-zeros without them passing through the pipeline).
"""
from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass
from typing import Literal

import pandas as pd
import pyterrier as pt

Source = Literal["computed", "cache", "shared"]


@dataclass
class StageTiming:
    label: str  # the component, with its cutoff: "bm25%100"
    seconds: float
    source: Source
    computed_rows: int | None = None  # with a cache: rows (queries or query-document pairs) computed...
    cached_rows: int | None = None  # ...and rows read from the cache

    def describe(self, n_queries: int) -> str:
        """``bm25%100 0.91 ms/q (1097 q/s), cache: 0 computed, 300 read``."""
        text = f"{self.label} {1000 * self.seconds / n_queries:.2f} ms/q ({qps(self.seconds, n_queries):.0f} q/s)"
        if self.source == "shared":
            return text + ", shared"
        if self.computed_rows is not None:
            return text + f", cache: {self.computed_rows} computed, {self.cached_rows} read"
        return text

    def as_dict(self, n_queries: int) -> dict:
        return {**asdict(self), "ms_per_query": 1000 * self.seconds / n_queries, "qps": qps(self.seconds, n_queries)}


def qps(seconds: float, n_queries: int) -> float:
    return n_queries / max(seconds, 1e-9)


def pipeline_parts(transformer) -> list:
    """The transformers a pipeline is made of: PyTerrier's ``>>`` opened, and so is every wrapper of one stage
    (a cache, a query guard, a cut-off: a transformer whose only subtransformer, as ``pt.inspect`` finds them,
    is one transformer). Transformers combining several (fusion) are not opened: their systems' figures are
    not theirs."""
    inner = pt.inspect.subtransformers(transformer)
    if isinstance(transformer, pt.Compose):
        return [p for t in inner["transformers"] for p in pipeline_parts(t)]
    wrapped = list(inner.values())
    if len(wrapped) == 1 and isinstance(wrapped[0], pt.Transformer) and wrapped[0] is not transformer:
        return [transformer, *pipeline_parts(wrapped[0])]
    return [transformer]


def _mean_terms(frame: pd.DataFrame, column: str, by: str) -> float | None:
    if column not in frame.columns or by not in frame.columns or len(frame) == 0:
        return None
    vectors = frame.drop_duplicates(by)[column]
    return float(vectors.map(lambda v: sum(1 for w in v.values() if w) if isinstance(v, dict) else 0).mean())


def sparsity(frames: list[pd.DataFrame], pipelines: list) -> dict:
    """``query_nnz`` / ``doc_nnz`` (mean non-zero terms) of a system, where it has sparse representations."""
    stats: dict[str, float] = {}
    for frame in frames:
        for name, column, by in (("query_nnz", "query_toks", "qid"), ("doc_nnz", "toks", "docno")):
            value = _mean_terms(frame, column, by)
            if value is not None:
                stats[name] = value
    for pipeline in pipelines:  # an index's figure covers the whole corpus, not the retrieved documents only
        for part in pipeline_parts(pipeline):
            hook = getattr(part, "sparsity_stats", None)
            if callable(hook):  # given the frames: results read from a cache never passed through the retriever
                figures = hook(frames) if inspect.signature(hook).parameters else hook()
                stats.update({k: float(v) for k, v in (figures or {}).items() if v is not None})
    return stats
