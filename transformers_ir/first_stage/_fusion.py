"""Fusion of first stages that see different evidence (BM25's exact terms, SPLADE's expansions).

Reciprocal rank fusion (Cormack et al., 2009): ``score(d) = sum_s 1 / (k + rank_s(d))`` with ranks from 1, needing
no tuning. Interpolation: each system's scores min-max normalised per query to [0, 1] (a document a system did not
return counts 0 there), then ``sum_s weight_s * norm_s(d)``; tune the weights on training queries with
:func:`tune_interpolation`, never on the queries you report.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import ir_measures
import numpy as np
import pandas as pd
import pyterrier as pt

from transformers_ir._options import FUSION_METHODS as METHODS
from transformers_ir._options import FusionMethod as Method
from transformers_ir._ranking import check_cutoff, check_finite, check_unique, evaluation_frame, minmax, rank_results
from transformers_ir._validate import require_columns
from transformers_ir._values import parse_metric
from transformers_ir.errors import RankingError


class Fusion(pt.Transformer):
    """Runs each system on the queries and fuses their rankings into one.

    Args:
        systems: the first stages (each maps queries to a result frame).
        method: ``'rrf'`` or ``'interpolate'``.
        k: RRF's constant (60, as in the paper).
        weights: interpolation weights, one per system (default: equal).
        num_results: results kept per query after fusion.
    """

    def __init__(self, systems: Sequence[pt.Transformer], *, method: Method = "rrf", k: float = 60.0,
                 weights: Sequence[float] | None = None, num_results: int = 1000):
        systems = list(systems)
        if len(systems) < 2:
            raise ValueError(f"fusion needs at least two systems, got {len(systems)}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        if weights is not None and len(weights) != len(systems):
            raise ValueError(f"{len(weights)} weights for {len(systems)} systems: give one weight per system")
        if weights is not None and not all(isinstance(w, (int, float)) and math.isfinite(w) for w in weights):
            raise ValueError(f"weights must be finite numbers, got {list(weights)!r}")
        if not (isinstance(k, (int, float)) and math.isfinite(k) and k > 0):
            raise ValueError(f"k must be a finite number > 0, got {k!r}")
        check_cutoff(num_results, "num_results")
        self.systems = systems
        self.method = method
        self.k = float(k)
        self.weights = None if weights is None else [float(w) for w in weights]
        self.num_results = num_results

    def transform(self, queries: pd.DataFrame) -> pd.DataFrame:
        pt.validate.query_frame(queries)
        columns = [c for c in queries.columns if c not in ("docno", "docid", "score", "rank")]
        queries = queries[columns].drop_duplicates("qid")
        if len(queries) == 0:
            return queries.assign(docno=pd.Series(dtype=object), score=pd.Series(dtype="float64"),
                                  rank=pd.Series(dtype="int64"))
        runs = [system(queries) for system in self.systems]
        return fuse(runs, queries, method=self.method, k=self.k, weights=self.weights, num_results=self.num_results,
                    sources=[f"fused system #{i + 1} ({s!r})" for i, s in enumerate(self.systems)])

    def _config(self) -> tuple:
        return (tuple(self.systems), self.method, self.k, None if self.weights is None else tuple(self.weights),
                self.num_results)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._config() == self._config()

    def __hash__(self) -> int:
        return hash(self._config())

    def __repr__(self) -> str:
        args = [f"[{', '.join(map(repr, self.systems))}]", f"method={self.method!r}"]
        if self.method == "rrf" and self.k != 60.0:
            args.append(f"k={self.k:g}")
        if self.weights is not None:
            args.append(f"weights={self.weights!r}")
        return f"Fusion({', '.join(args)})"


def check_fusable(run: pd.DataFrame, source: str) -> None:
    """A run fusion can trust: ``qid, docno, score`` columns, str qids (an int qid never meets the str one of
    another run), finite scores (a NaN would count as 0), each (qid, docno) once (a repeated pair would count
    twice)."""
    require_columns(run, ["qid", "docno", "score"], f"{source} must give a result frame (qid, docno, score)")
    if len(run) == 0:
        return
    for column in ("qid", "docno"):
        odd = run[column].map(lambda v: not isinstance(v, str))
        if odd.any():
            value = run.loc[odd, column].iloc[0]
            raise RankingError(f"{source} gives {column} {value!r} of type {type(value).__name__}, not str: the same "
                               f"query or document would not match across runs; convert with "
                               f"frame.astype({{'{column}': str}})")
    check_finite(run, source)
    check_unique(run, source)


def fuse(runs: Sequence[pd.DataFrame], queries: pd.DataFrame, *, method: Method = "rrf", k: float = 60.0,
         weights: Sequence[float] | None = None, num_results: int = 1000,
         sources: Sequence[str] | None = None) -> pd.DataFrame:
    """Fuse result frames (``qid, docno, score``) of the same queries; the queries' columns are kept. Each run
    is checked first (:func:`check_fusable`).

    Args:
        runs: one result frame per system.
        queries: the queries (their columns are kept in the output).
        method: ``'rrf'`` or ``'interpolate'`` (min-max normalised scores, :func:`transformers_ir._ranking.minmax`).
        k: RRF's constant.
        weights: one per run (default: equal).
        num_results: results kept per query.
        sources: what names each run in an error (default: ``run #1``, ...).

    Returns:
        The fused result frame, ranked.

    Raises:
        RankingError: queries with non-str qids, or a run fusion cannot trust (see :func:`check_fusable`).
    """
    weights = [1.0] * len(runs) if weights is None else list(weights)
    sources = list(sources) if sources is not None else [f"run #{i + 1}" for i in range(len(runs))]
    if len(queries) and not all(isinstance(q, str) for q in queries["qid"]):
        raise RankingError("the queries' qids are not all str: convert with topics.astype({'qid': str})")
    parts = []
    for run, weight, source in zip(runs, weights, sources):
        check_fusable(run, source)
        if len(run) == 0:
            continue
        ranked = rank_results(run[["qid", "docno", "score"]])
        if method == "rrf":
            contribution = weight / (k + ranked["rank"].to_numpy(dtype="float64") + 1.0)
        else:
            contribution = weight * minmax(ranked["score"], ranked["qid"])
        parts.append(pd.DataFrame({"qid": ranked["qid"], "docno": ranked["docno"], "score": contribution}))
    if not parts:
        fused = pd.DataFrame({"qid": pd.Series(dtype=object), "docno": pd.Series(dtype=object),
                              "score": pd.Series(dtype="float64")})
    else:
        fused = pd.concat(parts).groupby(["qid", "docno"], as_index=False, sort=False)["score"].sum()
    fused = rank_results(fused)
    fused = fused[fused["rank"] < num_results]
    return fused.merge(queries, on="qid", how="left")[[*queries.columns, "docno", "score", "rank"]]


def tune_interpolation(runs: Sequence[pd.DataFrame], topics: pd.DataFrame, qrels: pd.DataFrame, *,
                       metric="nDCG@10", grid: Sequence[float] = tuple(np.round(np.arange(0.0, 1.01, 0.05), 2))
                       ) -> tuple[list[float], float]:
    """Best interpolation weights for two runs (``[w, 1 - w]`` for ``w`` in ``grid``) on training queries and
    their qrels. Runs are computed once, outside.

    Args:
        runs: the two systems' result frames on the training queries.
        topics: those queries.
        qrels: their judgments.
        metric: the measure to maximise (an ir_measures or trec_eval name, or a measure).
        grid: the weights ``w`` tried for the first run.

    Returns:
        ``(weights, metric value)`` of the best ``w``.

    Raises:
        ValueError: not exactly two runs.
    """
    if len(runs) != 2:
        raise ValueError("tune_interpolation tunes two runs; fuse more with equal weights or RRF")
    measure = parse_metric(metric)
    qrels = qrels.rename(columns={"qid": "query_id", "docno": "doc_id", "label": "relevance"})
    best = ([0.5, 0.5], -1.0)
    for w in grid:
        fused = fuse(runs, topics, method="interpolate", weights=[w, 1 - w])
        frame = evaluation_frame(fused).rename(columns={"qid": "query_id", "docno": "doc_id"})
        value = ir_measures.calc_aggregate([measure], qrels, frame[["query_id", "doc_id", "score"]])[measure]
        if value > best[1] + 1e-12:
            best = ([float(w), float(1 - w)], float(value))
    return best
