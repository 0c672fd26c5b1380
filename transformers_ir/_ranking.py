"""One tie-break for the whole library: score descending, then docno ascending.

Evaluators disagree on tied scores (trec_eval breaks ties by docno descending, others by input order), so a run
with ties can get different RR@10 from different tools, and a constant scorer can look good. We rank once, here,
and evaluate on ``-rank`` so every evaluator sees the same order.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def rank_results(results: pd.DataFrame) -> pd.DataFrame:
    """Sort each query's results by score (descending) then docno (ascending) and set ``rank`` from 0."""
    if len(results) == 0:
        return results.assign(rank=pd.Series(dtype="int64"))
    out = results.sort_values(["qid", "score", "docno"], ascending=[True, False, True], kind="stable")
    out = out.reset_index(drop=True)
    out["rank"] = out.groupby("qid", sort=False).cumcount().astype("int64")
    return out


def check_finite(results: pd.DataFrame, source: str) -> None:
    """Refuse NaN or infinite scores, naming the source and rows, rather than rank them silently."""
    scores = pd.to_numeric(results["score"], errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(scores)
    if bad.any():
        rows = results.loc[bad, ["qid", "docno"]].head(5).to_dict("records")
        raise ValueError(f"{source} produced {int(bad.sum())} NaN or infinite scores, e.g. {rows}")


def evaluation_frame(results: pd.DataFrame) -> pd.DataFrame:
    """Results ranked by :func:`rank_results`, with ``score = -rank`` so evaluators cannot re-break ties."""
    ranked = rank_results(results)
    return ranked.assign(score=-ranked["rank"].astype("float64"))
